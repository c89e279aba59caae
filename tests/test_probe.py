"""probe() and the ffmpeg runner against real HTTP: the emulator's presigned URLs."""
from __future__ import annotations

import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from chalicelib.errors import ErrorCode, TaskFailed
from chalicelib.ffmpeg import ffmpeg_exe, input_args, run_ffmpeg
from chalicelib.probe import probe
from tests import videos
from tests.conftest import presigned_url
from tests.videos import make_video


def lavfi(path: Path, *args: str) -> Path:
    """Makes a small test file with ffmpeg's generators."""
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", *args, str(path)], check=True)
    return path


def unknown_durations(source: Path, target: Path) -> Path:
    """A copy of an MP4 whose mvhd, tkhd and mdhd say 0xFFFFFFFF, "unknown", as fragmented files do."""
    data = bytearray(source.read_bytes())
    for box, offset in ((b"mvhd", 20), (b"tkhd", 24), (b"mdhd", 20)):
        at = data.find(box)
        data[at + offset:at + offset + 4] = struct.pack(">I", 0xFFFFFFFF)
    target.write_bytes(data)
    return target


@pytest.fixture(scope="module")
def rotated_video(video_dir: Path) -> videos.TestVideo:
    return make_video(video_dir / "rotated90.mp4", frames=25, rotation=90)


@pytest.fixture()
def silent_server() -> Iterator[str]:
    """An http URL on loopback whose server accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/video.mp4"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_probe_reads_duration_size_and_rate(numbered_video: videos.TestVideo, url_of) -> None:  # noqa: ANN001
    info = probe(url_of(numbered_video.path), 20)
    assert info.duration == pytest.approx(4.0, abs=0.01)
    assert (info.width, info.height, info.rotation) == (320, 240, 0)
    assert (info.display_width, info.display_height) == (320, 240)
    assert info.sample_aspect == Fraction(1)
    assert info.codec == "h264" and info.fps == pytest.approx(25.0)


def test_probe_swaps_the_displayed_size_of_a_rotated_video(rotated_video: videos.TestVideo, url_of) -> None:  # noqa: ANN001
    info = probe(url_of(rotated_video.path), 20)
    assert info.rotation == 90
    assert (info.width, info.height) == (320, 240)
    assert (info.display_width, info.display_height) == (240, 320)


def test_probe_applies_the_sample_aspect_ratio(video_dir: Path, url_of) -> None:  # noqa: ANN001
    path = lavfi(video_dir / "sar2.mp4", "-f", "lavfi", "-i", "testsrc=size=200x100:rate=10:duration=1",
                 "-vf", "setsar=2/1", "-c:v", "libx264", "-pix_fmt", "yuv420p")
    info = probe(url_of(path), 20)
    assert info.sample_aspect == Fraction(2)
    assert (info.display_width, info.display_height) == (400, 100)


def test_unknown_duration_is_measured_by_reading_the_stream(numbered_video: videos.TestVideo, video_dir: Path,
                                                             url_of) -> None:  # noqa: ANN001
    path = unknown_durations(numbered_video.path, video_dir / "unknown-duration.mp4")
    header = run_ffmpeg(["-hide_banner", "-i", str(path)], 20).stderr.decode()
    assert "Duration: N/A" in header  # the case under test really happens
    info = probe(url_of(path), 20)
    assert 3.8 <= info.duration <= 4.0  # the last packet's time: at most a frame or two short


def test_raw_stream_without_a_container_duration(numbered_video: videos.TestVideo, video_dir: Path,
                                                 url_of) -> None:  # noqa: ANN001
    path = lavfi(video_dir / "raw.h264", "-i", str(numbered_video.path), "-c", "copy", "-f", "h264")
    info = probe(url_of(path), 20)
    assert 3.5 <= info.duration <= 4.0 and (info.width, info.height) == (320, 240)


def test_audio_only_has_no_video_stream(video_dir: Path, url_of) -> None:  # noqa: ANN001
    path = lavfi(video_dir / "tone.m4a", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac")
    with pytest.raises(TaskFailed) as failed:
        probe(url_of(path), 20)
    assert failed.value.code == ErrorCode.NO_VIDEO_STREAM


def test_garbage_is_undecodable(video_dir: Path, url_of) -> None:  # noqa: ANN001
    path = video_dir / "garbage.mp4"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(TaskFailed) as failed:
        probe(url_of(path), 20)
    assert failed.value.code == ErrorCode.UNDECODABLE


def test_missing_object_is_source_not_found(s3, bucket: str) -> None:  # noqa: ANN001
    with pytest.raises(TaskFailed) as failed:
        probe(presigned_url(s3, bucket, "no-such-key.mp4"), 20)
    assert failed.value.code == ErrorCode.SOURCE_NOT_FOUND


def test_source_over_the_pixel_limit(numbered_video: videos.TestVideo, url_of) -> None:  # noqa: ANN001
    with pytest.raises(TaskFailed) as failed:
        probe(url_of(numbered_video.path), 20, max_pixels=320 * 240 - 1)
    assert failed.value.code == ErrorCode.SOURCE_TOO_LARGE
    assert probe(url_of(numbered_video.path), 20, max_pixels=320 * 240).width == 320


def test_a_server_that_never_answers_times_out(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(TaskFailed) as failed:
        probe(silent_server, 2)
    assert failed.value.code == ErrorCode.TIMED_OUT
    assert time.monotonic() - started < 6


# --- input lockdown: ffmpeg may read the presigned URL and nothing else -----------------------

@pytest.mark.parametrize("make_url", [
    lambda path: f"file:{path}",
    lambda path: f"concat:{path}|{path}",
    lambda path: "data:video/mp4;base64,AAAAHGZ0eXBpc29t",
    lambda path: f"subfile,,start,0,end,0,,:{path}",
])
def test_local_and_composite_protocols_are_refused(numbered_video: videos.TestVideo, make_url) -> None:  # noqa: ANN001
    url = make_url(numbered_video.path)
    result = run_ffmpeg(["-hide_banner", *input_args(url)], 20)
    assert "Input #0" not in result.stderr.decode()
    assert b"not on whitelist" in result.stderr
    with pytest.raises(TaskFailed) as failed:
        probe(url, 20)
    assert failed.value.code == ErrorCode.UNDECODABLE


def test_hls_playlists_are_refused_wherever_they_point(numbered_video: videos.TestVideo, video_dir: Path,
                                                       url_of) -> None:  # noqa: ANN001
    segment = lavfi(video_dir / "segment.ts", "-i", str(numbered_video.path), "-c", "copy", "-f", "mpegts")
    for target in (url_of(segment), f"file://{segment}"):
        playlist = video_dir / "playlist.m3u8"
        playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n" f"{target}\n#EXT-X-ENDLIST\n")
        url = url_of(playlist)
        if target.startswith("http"):  # without the lockdown ffmpeg would follow it
            plain = run_ffmpeg(["-hide_banner", "-i", url], 20)
            assert b"Input #0, hls" in plain.stderr
        with pytest.raises(TaskFailed) as failed:
            probe(url, 20)
        assert failed.value.code == ErrorCode.UNDECODABLE
