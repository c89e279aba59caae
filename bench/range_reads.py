"""Benchmark: thumbnails by range reads (what the worker does) against downloading the whole source first.

Run: `.venv/bin/python -m bench.range_reads [seconds]`. Makes a 1280x720 H.264 clip of
the given length (default 300 s), serves it from a Range-honouring server on loopback
paced at about 64 MB/s, and for each rule times the worker's own probe + extract
against download-then-extract, interleaving the runs (the machine is noisy) and
printing medians and the ratios of time and of bytes read, side by side.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from chalicelib.extract import extract_frame
from chalicelib.ffmpeg import ffmpeg_exe
from chalicelib.planning import plan_times
from chalicelib.probe import probe
from chalicelib.sizing import output_size
from local.rangeserver import RangeServer

ROUNDS = 3
RULES = [("single", 1, True), ("single", 1, False), ("average", 5, True), ("average", 5, False)]


def make_clip(folder: Path, seconds: int) -> Path:
    path = folder / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc2=size=1280x720:rate=25:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                    "-b:v", "4M", "-g", "50", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)], check=True)
    return path


def by_range_reads(url: str, mode: str, count: int, key_frame: bool) -> None:
    info = probe(url, 120)
    for seconds in plan_times(mode, info.duration // 2 if mode == "single" else 0, -1, count, info.duration):
        extract_frame(url, seconds, key_frame, output_size(info, 320, 0), "jpg", 120)


def by_download(url: str, mode: str, count: int, key_frame: bool, folder: Path) -> None:
    local = folder / "downloaded.mp4"
    with urllib.request.urlopen(url) as answer, local.open("wb") as out:
        while chunk := answer.read(1 << 20):
            out.write(chunk)
    info = probe_local(local)
    for seconds in plan_times(mode, int(info // 2) if mode == "single" else 0, -1, count, info):
        skip = ["-skip_frame", "nokey"] if key_frame else []
        subprocess.run([ffmpeg_exe(), "-loglevel", "error", *skip, "-ss", f"{seconds:.3f}", "-i", str(local),
                        "-frames:v", "1", "-vf", "scale=320:-2", "-f", "image2pipe", "-c:v", "mjpeg", "-"],
                       check=True, capture_output=True)
    local.unlink()


def probe_local(path: Path) -> float:
    text = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    hours, minutes, seconds = text.split("Duration: ")[1].split(",")[0].split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def main() -> None:
    length = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        clip = make_clip(folder, length)
        server = RangeServer(folder)
        url, size = server.url(clip.name), clip.stat().st_size
        print(f"source: {length} s of 1280x720, {size:,} bytes, served at ~64 MB/s; {ROUNDS} interleaved rounds\n")
        print(f"{'rule':<24}{'range reads s':>14}{'download s':>12}{'time ratio':>12}"
              f"{'range bytes':>14}{'download bytes':>16}{'bytes ratio':>13}")
        for mode, count, key_frame in RULES:
            times: dict[str, list[float]] = {"range": [], "download": []}
            sent: dict[str, int] = {}
            for _ in range(ROUNDS):
                for way in ("range", "download"):
                    server.reset()
                    started = time.perf_counter()
                    if way == "range":
                        by_range_reads(url, mode, count, key_frame)
                    else:
                        by_download(url, mode, count, key_frame, folder)
                    times[way].append(time.perf_counter() - started)
                    sent[way] = server.bytes_sent
            ranged, whole = statistics.median(times["range"]), statistics.median(times["download"])
            label = f"{mode} x{count} {'keyframe' if key_frame else 'exact'}"
            print(f"{label:<24}{ranged:>14.2f}{whole:>12.2f}{whole / ranged:>11.1f}x"
                  f"{sent['range']:>14,}{sent['download']:>16,}{sent['download'] / sent['range']:>12.1f}x")
        server.stop()


if __name__ == "__main__":
    main()
