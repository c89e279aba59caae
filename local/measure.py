"""`python -m local.measure [VIDEO]`: duration and peak memory per task on the local stack, a guide to Lambda cost.

Runs each rule below as one task, one task at a time, on the in-process worker, and
samples every 10 ms the resident memory of the ffmpeg processes running at once and the
growth of this process (which also holds the emulator, so the growth overstates the
worker's). Lambda counts both, plus about 100 MiB for the runtime with the app imported.
Without VIDEO it makes a 60 s 1920x1080 H.264 clip.
Emulated S3 is on loopback, so real runs add the time to read the source from S3.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from chalicelib.ffmpeg import ffmpeg_exe
from chalicelib.settings import get_settings
from local.stack import LocalStack

REGION = "measure"
BUCKET = "measure"
RULES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("single, keyframe", {"mode": "single", "startTimeInSecond": 30}, {}),
    ("single, exact frame", {"mode": "single", "startTimeInSecond": 30, "keyFrame": False}, {}),
    ("multi x10, keyframes", {"mode": "multi", "count": 10}, {}),
    ("multi x10, exact frames", {"mode": "multi", "count": 10, "keyFrame": False}, {}),
    ("average x10, 320 px wide", {"mode": "average", "count": 10}, {"widthInPixel": 320}),
]


def make_clip(folder: Path) -> Path:
    path = folder / "clip-1080p.mp4"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=1920x1080:rate=30:duration=60", "-c:v", "libx264", "-preset", "veryfast",
                    "-g", "60", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)], check=True)
    return path


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:  # the process ended meanwhile
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


class PeakMemory:
    """Samples the RSS of this process's children (ffmpeg) and its own growth until stopped."""

    def __init__(self) -> None:
        self.children_kib = 0
        self.growth_kib = 0
        self._start_kib = _rss_kib(os.getpid())
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stopped.is_set():
            self.children_kib = max(self.children_kib, sum(_rss_kib(child) for child in _children(me)))
            self.growth_kib = max(self.growth_kib, _rss_kib(me) - self._start_kib)
            self._stopped.wait(0.01)


def measure(stack: LocalStack, video: Path) -> list[tuple[str, int, float, float, float]]:
    s3 = stack.emulator.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.upload_file(str(video), BUCKET, video.name)
    http = requests.Session()
    rows = []
    for label, rule, target in RULES:
        body = {"source": {"bucket": BUCKET, "key": video.name}, "rule": rule,
                "target": {"destBucket": BUCKET, "destKeyPrefix": f"out/{label}", **target}}
        with PeakMemory() as memory:
            started = time.monotonic()
            created = http.post(f"{stack.api_url}/v1/regions/{REGION}/thumbnail", json=body, timeout=30).json()
            task_id = created["result"]["thumbnailTaskID"]["taskID"]
            while True:
                task = http.get(f"{stack.api_url}/v1/regions/{REGION}/thumbnail/{task_id}",
                                timeout=30).json()["result"]["thumbnailTask"]
                if task["status"] in ("SUCCESS", "ERROR"):
                    break
                time.sleep(0.01)
            seconds = time.monotonic() - started
        if task["status"] != "SUCCESS":
            raise SystemExit(f"{label}: task ended {task['status']} {task['errorCode']}")
        rows.append((label, len(task["target"]["keys"]), seconds, memory.children_kib / 1024,
                     memory.growth_kib / 1024))
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch, LocalStack(api_port=0, emulator_port=0) as stack:
        video = Path(sys.argv[1]) if len(sys.argv) > 1 else make_clip(Path(scratch))
        idle = _rss_kib(os.getpid()) / 1024
        rows = measure(stack, video)
    print(f"source {video.name}, {os.cpu_count()} CPUs, MPS_EXTRACT_CONCURRENCY={get_settings().extract_concurrency}, "
          f"stack idle at {idle:.0f} MiB (emulator and API included)")
    print(f"{'rule':28} {'images':>6} {'seconds':>8} {'s/image':>8} {'ffmpeg MiB':>10} {'growth MiB':>10}")
    for label, images, seconds, children, growth in rows:
        print(f"{label:28} {images:6d} {seconds:8.2f} {seconds / images:8.2f} {children:10.0f} {growth:10.0f}")


if __name__ == "__main__":
    main()
