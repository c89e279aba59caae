"""`make demo`: the main job on the local stack, start to finish, with a table of what happened."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from chalicelib.ffmpeg import ffmpeg_exe
from local.stack import LocalStack

REGION = "local-1"
SOURCE_BUCKET, TARGET_BUCKET = "demo-videos", "demo-thumbnails"
OUTPUT = Path("demo-output")
RULES: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"mode": "single", "startTimeInSecond": 3, "keyFrame": False}, {"widthInPixel": 320}),
    ({"mode": "multi", "startTimeInSecond": 2, "endTimeInSecond": 8, "count": 4}, {}),
    ({"mode": "average", "count": 5, "keyFrame": False}, {"format": "png", "heightInPixel": 180}),
]


def make_sample(folder: Path) -> Path:
    """A 10 s 640x360 H.264 + AAC clip of ffmpeg's test pattern, which shows a running clock."""
    path = folder / "sample.mp4"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc2=size=640x360:rate=25:duration=10", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=10", "-c:v", "libx264", "-g", "50", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(path)], check=True)
    return path


def run(stack: LocalStack) -> bool:
    s3 = stack.emulator.client("s3")
    for name in (SOURCE_BUCKET, TARGET_BUCKET):
        s3.create_bucket(Bucket=name)
    with tempfile.TemporaryDirectory() as folder:
        s3.upload_file(str(make_sample(Path(folder))), SOURCE_BUCKET, "samples/sample.mp4")
    http = requests.Session()
    started: list[tuple[str, str, float]] = []
    for rule, target in RULES:
        body = {"source": {"bucket": SOURCE_BUCKET, "key": "samples/sample.mp4"},
                "target": {"destBucket": TARGET_BUCKET, "destKeyPrefix": f"thumbs/{rule['mode']}", **target},
                "rule": rule}
        answer = http.post(f"{stack.api_url}/v1/regions/{REGION}/thumbnail", json=body, timeout=30)
        answer.raise_for_status()
        started.append((answer.json()["result"]["thumbnailTaskID"]["taskID"], rule["mode"], time.monotonic()))
    OUTPUT.mkdir(exist_ok=True)
    print(f"{'task':<34}{'mode':<9}{'status':<9}{'seconds':>8}  keys")
    all_ok = True
    for task_id, mode, began in started:
        task = wait(http, stack.api_url, task_id)
        seconds = time.monotonic() - began
        keys = task["target"]["keys"]
        for key in keys:
            s3.download_file(TARGET_BUCKET, key, str(OUTPUT / Path(key).name))
        all_ok &= task["status"] == "SUCCESS"
        shown = ", ".join(keys) if keys else f"errorCode {task['errorCode']}"
        print(f"{task_id:<34}{mode:<9}{task['status']:<9}{seconds:>8.2f}  {shown}")
    print(f"\nimages in ./{OUTPUT}/")
    return all_ok


def wait(http: requests.Session, api_url: str, task_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = http.get(f"{api_url}/v1/regions/{REGION}/thumbnail/{task_id}", timeout=30).json()
        task = task["result"]["thumbnailTask"]
        if task["status"] in ("SUCCESS", "ERROR"):
            return task
        time.sleep(0.2)
    raise TimeoutError(f"task {task_id} did not finish in {timeout} s")


def main() -> None:
    with LocalStack(api_port=int(os.environ.get("API_PORT", 0)),
                    emulator_port=int(os.environ.get("EMULATOR_PORT", 0))) as stack:
        ok = run(stack)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
