"""Real-world sample files (../shared/media/files): probe, plan average count=3, extract each, over HTTP."""
from __future__ import annotations

import time

import pytest

from chalicelib.errors import ErrorCode, TaskFailed
from chalicelib.extract import extract_frame
from chalicelib.planning import plan_times
from chalicelib.probe import probe
from chalicelib.sizing import output_size
from tests.conftest import SHARED_MEDIA, presigned_url, upload
from tests.videos import image_size

if not SHARED_MEDIA.is_dir():
    pytest.skip(f"shared sample media not found at {SHARED_MEDIA}", allow_module_level=True)

TIMEOUT = 30
BOUND = 30  # seconds any one file may take, failures included

# file -> (displayed width, displayed height, rotation, duration as probed)
DECODABLE = {
    "h264_high_bframes_faststart_1080x720.mp4": (1080, 720, 0, 1.07),
    "h264_bpyramid_moov-at-end_800x640.mp4": (1138, 640, 0, 4.0),         # SAR 64:45
    "vp9_odd-size_161x121.webm": (161, 121, 0, 1.0),
    "av1_aac_1080x720.mp4": (1080, 720, 0, 1.09),
    "mpeg2_mp2_1080p.ts": (1920, 1080, 0, 2.51),                            # audio outlasts video (2.50 s)
    "iphone_hevc10_hlg_rot-90_107ms.mov": (720, 1280, -90, 0.11),           # 10-bit HLG, 4 frames
    "pixel7_h264_rot180_dark.mp4": (1920, 1080, -180, 1.21),
    "fragmented_h264_no-sidx.mp4": (1080, 720, 0, 1.07),                   # not the bogus 143165 s
    "truncated_mp4_mdat-too-long.mp4": (1080, 720, 0, 1.07),
    "animated_screencast_vfr_472x298.gif": (472, 298, 0, 58.55),
}
FAILING = {
    "audio-only_aac.mp4": ErrorCode.NO_VIDEO_STREAM,
    "corrupt_vp9_invalid-bitstream.webm": ErrorCode.UNDECODABLE,
}


def test_every_shared_file_is_covered() -> None:
    assert {path.name for path in SHARED_MEDIA.iterdir()} == set(DECODABLE) | set(FAILING)


@pytest.fixture(scope="module")
def shared_urls(s3) -> dict[str, str]:  # noqa: ANN001
    bucket = "shared-media"
    s3.create_bucket(Bucket=bucket)
    return {path.name: presigned_url(s3, bucket, upload(s3, bucket, path)) for path in SHARED_MEDIA.iterdir()}


@pytest.mark.parametrize("name", sorted(DECODABLE))
def test_average_of_three_at_the_displayed_size(shared_urls: dict[str, str], name: str) -> None:
    width, height, rotation, duration = DECODABLE[name]
    started = time.monotonic()
    info = probe(shared_urls[name], TIMEOUT)
    assert (info.display_width, info.display_height, info.rotation) == (width, height, rotation)
    assert info.duration == pytest.approx(duration, abs=0.011)
    times = plan_times("average", 0, -1, 3, info.duration)
    size = output_size(info, 0, 0)
    for keyframe in (False, True):
        images = [extract_frame(shared_urls[name], t, keyframe, size, "jpg", TIMEOUT) for t in times]
        assert [image_size(image) for image in images] == [(width, height)] * 3
        assert all(image.startswith(b"\xff\xd8\xff") for image in images)
    assert time.monotonic() - started < BOUND


def test_scaled_down_and_odd_sizes(shared_urls: dict[str, str]) -> None:
    for name, request_size, expected in (("vp9_odd-size_161x121.webm", (0, 0), (161, 121)),
                                         ("vp9_odd-size_161x121.webm", (81, 0), (81, 61)),
                                         ("iphone_hevc10_hlg_rot-90_107ms.mov", (0, 99), (56, 99)),
                                         ("h264_bpyramid_moov-at-end_800x640.mp4", (0, 321), (571, 321))):
        url = shared_urls[name]
        size = output_size(probe(url, TIMEOUT), *request_size)
        assert size == expected
        for fmt in ("jpg", "png", "webp"):
            assert image_size(extract_frame(url, 0.05, False, size, fmt, TIMEOUT)) == expected


@pytest.mark.parametrize("name", sorted(FAILING))
def test_unusable_files_fail_cleanly_and_quickly(shared_urls: dict[str, str], name: str) -> None:
    started = time.monotonic()
    with pytest.raises(TaskFailed) as failed:
        probe(shared_urls[name], TIMEOUT)
    assert failed.value.code == FAILING[name]
    assert time.monotonic() - started < BOUND


def test_corrupt_video_fails_in_extract_too(shared_urls: dict[str, str]) -> None:
    """probe already refuses it; extract must not return garbage or hang if called anyway."""
    started = time.monotonic()
    for keyframe in (False, True):
        with pytest.raises(TaskFailed) as failed:
            extract_frame(shared_urls["corrupt_vp9_invalid-bitstream.webm"], 1.0, keyframe, (320, 240), "jpg",
                          TIMEOUT)
        assert failed.value.code == ErrorCode.UNDECODABLE
    assert time.monotonic() - started < BOUND


def test_time_past_the_video_stream_in_a_longer_container(shared_urls: dict[str, str]) -> None:
    """The TS file's audio ends at 2.51 s, its video at 2.50 s: nothing is shown at 2.505 s."""
    with pytest.raises(TaskFailed) as failed:
        extract_frame(shared_urls["mpeg2_mp2_1080p.ts"], 2.505, False, (320, 180), "jpg", TIMEOUT)
    assert failed.value.code == ErrorCode.TIME_OUT_OF_RANGE
