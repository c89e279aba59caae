"""Planned times and output sizes: pure functions, no ffmpeg."""
from __future__ import annotations

from fractions import Fraction

import pytest

from chalicelib.errors import ErrorCode, TaskFailed
from chalicelib.planning import plan_times
from chalicelib.probe import VideoInfo
from chalicelib.sizing import output_size


def test_single_takes_the_start_time() -> None:
    assert plan_times("single", 3, -1, 1, 10.0) == [3.0]


def test_multi_spreads_over_start_to_end_without_reaching_end() -> None:
    assert plan_times("multi", 2, 6, 4, 10.0) == [2.0, 3.0, 4.0, 5.0]


def test_multi_end_minus_one_means_the_duration() -> None:
    assert plan_times("multi", 0, -1, 4, 8.0) == [0.0, 2.0, 4.0, 6.0]


def test_average_takes_the_middle_of_equal_slots() -> None:
    assert plan_times("average", 0, -1, 4, 8.0) == [1.0, 3.0, 5.0, 7.0]
    assert plan_times("average", 0, -1, 1, 3.0) == [1.5]


def test_average_never_reaches_the_end_even_with_many_images() -> None:
    times = plan_times("average", 0, -1, 100, 0.107)
    assert len(times) == 100 and times == sorted(times) and times[-1] < 0.107


@pytest.mark.parametrize("mode, start, end, count", [
    ("single", 10, -1, 1),      # exactly the end
    ("single", 11, -1, 1),
    ("multi", 0, 20, 4),        # 15 s is past a 10 s video
    ("multi", 10, -1, 2),       # start at the end
    ("average", 0, -1, 1),      # no video at all
])
def test_a_time_at_or_past_the_end_fails_instead_of_clamping(mode: str, start: int, end: int, count: int) -> None:
    duration = 0.0 if mode == "average" else 10.0
    with pytest.raises(TaskFailed) as failed:
        plan_times(mode, start, end, count, duration)
    assert failed.value.code == ErrorCode.TIME_OUT_OF_RANGE


def test_multi_end_inside_the_video_is_fine_even_if_the_last_slot_is_late() -> None:
    assert plan_times("multi", 0, 10, 2, 10.0) == [0.0, 5.0]


def _info(width: int, height: int, rotation: int = 0, sar: Fraction = Fraction(1)) -> VideoInfo:
    dw, dh = round(width * sar), height
    if rotation % 180 == 90:
        dw, dh = dh, dw
    return VideoInfo(duration=4.0, width=width, height=height, rotation=rotation, sample_aspect=sar,
                     display_width=dw, display_height=dh, codec="h264", fps=25.0)


@pytest.mark.parametrize("request_size, expected", [
    ((0, 0), (320, 240)),
    ((160, 0), (160, 120)),
    ((0, 60), (80, 60)),
    ((100, 50), (100, 50)),      # both given: the client's shape, even if stretched
    ((640, 0), (320, 240)),      # one side too large: not enlarged
    ((0, 480), (320, 240)),
    ((640, 480), (320, 240)),
    ((640, 100), (320, 50)),     # box too large: shrunk as a whole, keeping its shape
    ((100, 480), (50, 240)),
    ((161, 121), (161, 121)),    # odd sizes are kept
    ((8, 0), (8, 6)),
])
def test_output_size_rules(request_size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert output_size(_info(320, 240), *request_size) == expected


def test_output_size_follows_the_displayed_picture() -> None:
    portrait = _info(320, 240, rotation=90)
    assert output_size(portrait, 0, 0) == (240, 320)
    assert output_size(portrait, 120, 0) == (120, 160)
    anamorphic = _info(800, 640, sar=Fraction(64, 45))       # displayed 1138x640
    assert output_size(anamorphic, 0, 0) == (1138, 640)
    assert output_size(anamorphic, 569, 0) == (569, 320)


def test_output_size_is_at_least_one_pixel() -> None:
    assert output_size(_info(4000, 8), 8, 0) == (8, 1)
