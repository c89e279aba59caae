"""ffmpeg reads only the byte ranges it needs: a long source is never downloaded whole.

The source is served by a Range-honouring server on loopback that counts what it sends,
and read with the worker's own probe and extract, as on the presigned S3 URL.
"""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.extract import extract_frame
from chalicelib.ffmpeg import ffmpeg_exe
from chalicelib.planning import plan_times
from chalicelib.probe import probe
from chalicelib.sizing import output_size
from local.rangeserver import RangeServer

SECONDS = 60


@pytest.fixture(scope="module")
def long_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """60 s of 640x360 at 2 Mb/s with a keyframe every 2 s: moov first, and moov at the end."""
    folder = tmp_path_factory.mktemp("long")
    videos = {}
    for name, flags in (("faststart.mp4", ["-movflags", "+faststart"]), ("moov-at-end.mp4", [])):
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                        f"testsrc2=size=640x360:rate=25:duration={SECONDS}", "-c:v", "libx264", "-preset",
                        "ultrafast", "-b:v", "2M", "-g", "50", "-pix_fmt", "yuv420p", *flags, str(folder / name)],
                       check=True)
        videos[name] = folder / name
    return videos


@pytest.fixture(scope="module")
def server(long_videos: dict[str, Path]) -> Iterator[RangeServer]:
    running = RangeServer(next(iter(long_videos.values())).parent)
    yield running
    running.stop()


@pytest.mark.parametrize("name", ["faststart.mp4", "moov-at-end.mp4"])
@pytest.mark.parametrize("mode, count, key_frame, share", [
    ("single", 1, True, 0.10),
    ("single", 1, False, 0.10),
    ("average", 3, True, 0.25),
    ("average", 3, False, 0.25),
])
def test_a_task_reads_a_small_share_of_the_source(server: RangeServer, long_videos: dict[str, Path], name: str,
                                                  mode: str, count: int, key_frame: bool, share: float) -> None:
    url, size = server.url(name), long_videos[name].stat().st_size
    server.reset()
    info = probe(url, 30)
    assert info.duration == pytest.approx(SECONDS, abs=0.05)
    times = plan_times(mode, 30 if mode == "single" else 0, -1, count, info.duration)
    for seconds in times:
        extract_frame(url, seconds, key_frame, output_size(info, 320, 0), "jpg", 30)
    print(f"{name} {mode} x{count} keyFrame={key_frame}: {server.bytes_sent / size:.1%} of {size:,} bytes")
    assert server.bytes_sent < share * size, f"read {server.bytes_sent:,} of {size:,} bytes"
    assert server.bytes_sent > 0
