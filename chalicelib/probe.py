"""What a source video is: length, size as stored and as displayed, from ffmpeg's own report.

There is no ffprobe in the bundled build, so this parses the stream summary that
`ffmpeg -i URL` prints. The first video stream that is not a cover picture is
the one every later step uses (`-map 0:V:0`).

Duration: the container's duration as ffmpeg prints it (10 ms precision). When
there is none (`Duration: N/A`: raw streams, browser-recorded WebM, fragmented
MP4 whose header holds the "unknown" value 0xFFFFFFFF that older ffprobe
reported as 143165 s) the video stream is read through once without decoding
and the time of its last packet is taken (raw streams without packet times are
decoded instead), which is at most a frame or two short of the true end: planned
times stay inside the video. If that gives nothing either the source is UNDECODABLE.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from fractions import Fraction

from chalicelib.errors import ErrorCode, TaskFailed
from chalicelib.ffmpeg import input_args, last_lines, run_ffmpeg, source_error
from chalicelib.settings import get_settings


@dataclass(frozen=True)
class VideoInfo:
    """The facts about a source that planning, sizing and extraction need."""

    duration: float
    width: int  # as stored
    height: int
    rotation: int  # degrees, counter-clockwise, as ffmpeg's displaymatrix says
    sample_aspect: Fraction
    display_width: int  # after the sample aspect ratio and the rotation
    display_height: int
    codec: str
    fps: float | None


_DURATION = re.compile(r"^\s*Duration: (?:(\d+):(\d\d):(\d\d(?:\.\d+)?)|N/A)", re.M)
_STREAM = re.compile(r"^\s*Stream #\d+:\d+\S*: (\w+): (.*)$")
_SIZE = re.compile(r", (\d+)x(\d+)[ ,\n]")
_SAR = re.compile(r"SAR (\d+):(\d+)")
_FPS = re.compile(r", ([\d.]+)(k?) fps")
_ROTATION = re.compile(r"displaymatrix: rotation of (-?[\d.]+) degrees")
_TIME = re.compile(r"time=(\d+):(\d\d):(\d\d(?:\.\d+)?)")


def probe(url: str, timeout: float, *, max_pixels: int | None = None) -> VideoInfo:
    """Reads the source's header; raises TaskFailed with NO_VIDEO_STREAM, UNDECODABLE, SOURCE_TOO_LARGE..."""
    deadline = time.monotonic() + timeout
    result = run_ffmpeg(["-hide_banner", *input_args(url)], timeout)
    log = result.stderr.decode("utf-8", "replace")
    if result.returncode < 0:
        raise TaskFailed(ErrorCode.UNDECODABLE, f"ffmpeg crashed (signal {-result.returncode}) reading the source")
    if "Input #0" not in log:
        raise source_error(result.stderr) or TaskFailed(
            ErrorCode.UNDECODABLE, f"not a video ffmpeg can open: {last_lines(result.stderr)}")
    info = _parse(log)
    limit = get_settings().max_source_pixels if max_pixels is None else max_pixels
    if info.width * info.height > limit:
        raise TaskFailed(ErrorCode.SOURCE_TOO_LARGE, f"{info.width}x{info.height} is over {limit} pixels")
    if info.duration <= 0:
        measured = _measured_duration(url, max(deadline - time.monotonic(), 1.0))
        info = replace(info, duration=measured)
    return info


def _parse(log: str) -> VideoInfo:
    """The VideoInfo of the first real video stream in ffmpeg's report (duration 0 when unknown)."""
    lines = log.splitlines()
    for index, line in enumerate(lines):
        stream = _STREAM.match(line)
        if not stream or stream.group(1) != "Video" or "(attached pic)" in line:
            continue
        size = _SIZE.search(line + "\n")
        if not size or line[:size.start()].endswith(", none"):
            raise TaskFailed(ErrorCode.UNDECODABLE, f"no frame of the video stream decodes: {line.strip()}")
        width, height = int(size.group(1)), int(size.group(2))
        if width == 0 or height == 0:
            raise TaskFailed(ErrorCode.UNDECODABLE, f"the video stream has no size: {line.strip()}")
        sar = _SAR.search(line)
        sample_aspect = Fraction(1)
        if sar and int(sar.group(1)) and int(sar.group(2)):  # 0:1 means unknown: square pixels
            sample_aspect = Fraction(int(sar.group(1)), int(sar.group(2)))
        fps = _FPS.search(line)
        rotation = _rotation(lines[index + 1:])
        display_width, display_height = max(1, round(width * sample_aspect)), height
        if rotation % 180 == 90:
            display_width, display_height = display_height, display_width
        duration = _DURATION.search(log)
        return VideoInfo(
            duration=_seconds(duration) if duration and duration.group(1) else 0.0,
            width=width, height=height, rotation=rotation, sample_aspect=sample_aspect,
            display_width=display_width, display_height=display_height,
            codec=stream.group(2).split()[0].rstrip(","),
            fps=float(fps.group(1)) * (1000 if fps.group(2) else 1) if fps else None)
    raise TaskFailed(ErrorCode.NO_VIDEO_STREAM, "the source has no video stream")


def _rotation(following: list[str]) -> int:
    """The displaymatrix rotation among the lines that belong to the stream (0 when none)."""
    for line in following:
        if _STREAM.match(line) or not line.startswith("    "):
            break
        found = _ROTATION.search(line)
        if found:
            # autorotate only turns multiples of 90 degrees; other angles are shown unturned
            degrees = round(float(found.group(1)))
            return degrees if degrees % 90 == 0 else 0
    return 0


def _seconds(match: re.Match[str]) -> float:
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _measured_duration(url: str, timeout: float) -> float:
    """The time of the video stream's last packet, read through without decoding.

    Raw streams (.h264) carry no packet times; for them the frames are decoded.
    """
    deadline = time.monotonic() + timeout
    for codec in (["-c", "copy"], []):
        result = run_ffmpeg(["-hide_banner", *input_args(url), "-map", "0:V:0", *codec, "-f", "null", "-"],
                            max(deadline - time.monotonic(), 1.0))
        times = list(_TIME.finditer(result.stderr.decode("utf-8", "replace")))
        if times and _seconds(times[-1]) > 0:
            return _seconds(times[-1])
    raise TaskFailed(ErrorCode.UNDECODABLE, f"the video has no usable duration: {last_lines(result.stderr)}")
