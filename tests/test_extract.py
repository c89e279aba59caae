"""extract_frame on frame-numbered videos served over real HTTP: which frame, what size, which format."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chalicelib.errors import ErrorCode, TaskFailed
from chalicelib.extract import extract_frame
from chalicelib.ffmpeg import ffmpeg_exe
from chalicelib.model import FORMATS
from chalicelib.planning import plan_times
from chalicelib.probe import probe
from chalicelib.sizing import output_size
from tests import videos
from tests.videos import image_size, make_video, read_frame_number

TIMEOUT = 30
MAGIC = {"jpg": (0, b"\xff\xd8\xff"), "png": (0, b"\x89PNG\r\n\x1a\n"), "webp": (8, b"WEBP")}


@pytest.fixture(scope="module")
def video30(video_dir: Path) -> videos.TestVideo:
    """30 fps, a keyframe every 48 frames (1.6 s): keyframes off the second grid."""
    return make_video(video_dir / "numbered30.mp4", fps=30, frames=120, gop=48)


@pytest.fixture(scope="module")
def video_ts(video_dir: Path) -> videos.TestVideo:
    """MPEG-TS: no keyframe index, seeks land near T, and ffmpeg rewrites its timestamps after a seek."""
    return make_video(video_dir / "numbered.ts", frames=100, gop=25)


@pytest.fixture(scope="module")
def rotated(video_dir: Path) -> videos.TestVideo:
    return make_video(video_dir / "rotated90.mp4", frames=25, rotation=90)


def frame_at(url: str, seconds: float, keyframe: bool, size: tuple[int, int] = (320, 240),
             fmt: str = "png", rotation: int = 0) -> int:
    return read_frame_number(extract_frame(url, seconds, keyframe, size, fmt, TIMEOUT), rotation)


TIMES_25 = [0, 0.02, 0.039, 0.04, 0.5, 0.99, 1.0, 1.01, 1.039, 1.04, 1.96, 2.5, 2.519, 3.0, 3.333, 3.95, 3.99]
TIMES_30 = [0, 0.01, 0.0334, 0.5, 1.0, 1.59, 1.6, 1.61, 2.0, 3.19, 3.2, 3.21, 3.5, 3.98]


@pytest.mark.parametrize("keyframe", [False, True])
def test_frame_accuracy_25fps(numbered_video: videos.TestVideo, url_of, keyframe: bool) -> None:  # noqa: ANN001
    url = url_of(numbered_video.path)
    expected = [numbered_video.keyframe_at_or_before(t) if keyframe else numbered_video.frame_shown_at(t)
                for t in TIMES_25]
    assert [frame_at(url, t, keyframe) for t in TIMES_25] == expected


@pytest.mark.parametrize("keyframe", [False, True])
def test_frame_accuracy_30fps_long_gop(video30: videos.TestVideo, url_of, keyframe: bool) -> None:  # noqa: ANN001
    url = url_of(video30.path)
    expected = [video30.keyframe_at_or_before(t) if keyframe else video30.frame_shown_at(t) for t in TIMES_30]
    assert [frame_at(url, t, keyframe) for t in TIMES_30] == expected


TIMES_TS = [0, 0.02, 0.5, 0.99, 1.0, 1.01, 1.5, 2.0, 2.5, 3.0, 3.5, 3.9, 3.99]


@pytest.mark.parametrize("keyframe", [False, True])
def test_frame_accuracy_mpeg_ts(video_ts: videos.TestVideo, url_of, keyframe: bool) -> None:  # noqa: ANN001
    url = url_of(video_ts.path)
    expected = [video_ts.keyframe_at_or_before(t) if keyframe else video_ts.frame_shown_at(t) for t in TIMES_TS]
    assert [frame_at(url, t, keyframe) for t in TIMES_TS] == expected


@pytest.mark.parametrize("mode, start, end, count, shown, keyframes", [
    ("single", 2, -1, 1, [50], [50]),
    ("multi", 1, 3, 4, [25, 37, 50, 62], [25, 25, 50, 50]),      # 1, 1.5, 2, 2.5 s
    ("multi", 0, -1, 3, [0, 33, 66], [0, 25, 50]),               # 0, 1.33, 2.67 s
    ("average", 0, -1, 4, [12, 37, 62, 87], [0, 25, 50, 75]),    # 0.5, 1.5, 2.5, 3.5 s
])
def test_planned_times_give_the_expected_frames(numbered_video: videos.TestVideo, url_of, mode: str, start: int,
                                                end: int, count: int, shown: list[int],
                                                keyframes: list[int]) -> None:  # noqa: ANN001
    url = url_of(numbered_video.path)
    info = probe(url, TIMEOUT)
    times = plan_times(mode, start, end, count, info.duration)
    assert [frame_at(url, t, False) for t in times] == shown
    assert [frame_at(url, t, True) for t in times] == keyframes


def test_time_past_the_end_of_the_video_stream(numbered_video: videos.TestVideo, url_of) -> None:  # noqa: ANN001
    with pytest.raises(TaskFailed) as failed:
        extract_frame(url_of(numbered_video.path), 4.0, False, (320, 240), "jpg", TIMEOUT)
    assert failed.value.code == ErrorCode.TIME_OUT_OF_RANGE


@pytest.mark.parametrize("request_size, expected", [
    ((0, 0), (320, 240)), ((160, 0), (160, 120)), ((0, 60), (80, 60)), ((100, 50), (100, 50)),
    ((640, 480), (320, 240)), ((640, 0), (320, 240)), ((161, 121), (161, 121)), ((33, 0), (33, 25)),
])
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_sizes_and_formats(numbered_video: videos.TestVideo, url_of, request_size: tuple[int, int],
                           expected: tuple[int, int], fmt: str) -> None:  # noqa: ANN001
    url = url_of(numbered_video.path)
    size = output_size(probe(url, TIMEOUT), *request_size)
    assert size == expected
    image = extract_frame(url, 1.5, False, size, fmt, TIMEOUT)
    offset, magic = MAGIC[fmt]
    assert image[offset:offset + len(magic)] == magic
    assert image_size(image) == expected
    if expected[0] >= 100:  # the bars are readable down to 10 pixels each
        assert read_frame_number(image) == 37


def test_rotated_source_comes_out_upright(rotated: videos.TestVideo, url_of) -> None:  # noqa: ANN001
    url = url_of(rotated.path)
    info = probe(url, TIMEOUT)
    for request_size, expected in (((0, 0), (240, 320)), ((120, 0), (120, 160)), ((0, 640), (240, 320))):
        image = extract_frame(url, 0.5, False, output_size(info, *request_size), "jpg", TIMEOUT)
        assert image_size(image) == expected
        assert read_frame_number(image, rotation=90) == 12


def test_non_square_pixels_are_stretched_to_the_displayed_size(video_dir: Path, url_of) -> None:  # noqa: ANN001
    path = video_dir / "sar2.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=200x100:rate=10:duration=1", "-vf", "setsar=2/1", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    url = url_of(path)
    image = extract_frame(url, 0.5, True, output_size(probe(url, TIMEOUT), 0, 0), "png", TIMEOUT)
    assert image_size(image) == (400, 100)


def test_garbage_is_undecodable(video_dir: Path, url_of) -> None:  # noqa: ANN001
    path = video_dir / "garbage.bin"
    path.write_bytes(b"\x00\x00\x01\xb3" + bytes(range(256)) * 32)
    for keyframe in (False, True):
        with pytest.raises(TaskFailed) as failed:
            extract_frame(url_of(path), 0.5, keyframe, (320, 240), "jpg", TIMEOUT)
        assert failed.value.code == ErrorCode.UNDECODABLE


def test_frames_over_the_pixel_limit_are_refused(numbered_video: videos.TestVideo, url_of) -> None:  # noqa: ANN001
    with pytest.raises(TaskFailed) as failed:
        extract_frame(url_of(numbered_video.path), 1.0, False, (320, 240), "jpg", TIMEOUT, max_pixels=1000)
    assert failed.value.code == ErrorCode.SOURCE_TOO_LARGE
