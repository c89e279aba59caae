"""When to take each image: the planned times, in seconds from the start of the video.

With D the video's duration, S startTimeInSecond, E endTimeInSecond (-1 means D)
and N count:

- single:  one time, S.
- multi:   t_i = S + i * (E - S) / N,  i = 0 .. N-1   (evenly over [S, E); E itself is never taken)
- average: t_i = D * (2i + 1) / (2N),  i = 0 .. N-1   (the middle of N equal slots of the whole video,
  so neither the black first frame nor the end is taken; N = 1 gives D / 2)

A planned time at or past D fails the task with TIME_OUT_OF_RANGE; times are
never clamped, so a request that does not fit the video says so instead of
silently repeating the last frame.
"""
from __future__ import annotations

from chalicelib.errors import ErrorCode, TaskFailed

MODES = ("single", "multi", "average")


def plan_times(mode: str, start: int, end: int, count: int, duration: float) -> list[float]:
    """The planned times in ascending order; raises TaskFailed(TIME_OUT_OF_RANGE) past the end."""
    if mode == "single":
        times = [float(start)]
    elif mode == "multi":
        stop = duration if end == -1 else float(end)
        times = [start + i * (stop - start) / count for i in range(count)]
    elif mode == "average":
        times = [duration * (2 * i + 1) / (2 * count) for i in range(count)]
    else:
        raise ValueError(f"unknown mode {mode!r}")
    late = [t for t in times if t >= duration]
    if late:
        raise TaskFailed(ErrorCode.TIME_OUT_OF_RANGE,
                         f"{mode}: time {late[0]:g} s is not before the end of the video ({duration:g} s)")
    return times
