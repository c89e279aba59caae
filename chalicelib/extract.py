"""One image of a source video at a planned time T, encoded in memory by ffmpeg.

Every run seeks to some S <= T (`-ss S -noaccurate_seek`: the demuxer lands on a
keyframe, nothing is skipped by decoding) and keeps the file's own timestamps
(`-copyts -start_at_zero`, so 0 is the start of the file for every container; the
relative timestamps of a plain seek are undone by ffmpeg's MPEG-TS discontinuity
handling). `setpts=PTS-T/TB` then puts T at 0 and the picking is done by filters:

- keyFrame false, the frame shown at T: `fps=1/100000:round=up` puts every frame in
  (-100000 s, 0] on tick 0 and emits the last of them once the next frame (or the end
  of the stream) shows that it is the one on screen at T.
- keyFrame true, the keyframe at or before T: first `-skip_frame nokey` and the first
  frame out (`trim` drops anything after T); that is exact and fast wherever the
  container indexes its keyframes (MP4, MOV, Matroska). The fallback runs pick the
  last keyframe at or before T with the same fps filter.

Containers without a keyframe index (MPEG-TS) can land after T, and then nothing
comes out: the run is repeated from S = T-3, T-30 and 0, where a `select` guard
keeps frames after T out until one at or before T has been seen. The run from 0 has
no guard, and `start_time=0` lets the first frame stand in when the video stream
only starts after T.

`-fps_mode passthrough` keeps the image2pipe muxer from dropping frames with
negative timestamps. Frames are turned upright per the displaymatrix before the
filters, and scaling to the displayed size also undoes a non-square sample aspect
ratio, hence `setsar=1`.

Errors: nothing out of a clean run from 0 means T is past the end of the video
stream (TIME_OUT_OF_RANGE; the container can outlast it, e.g. longer audio); nothing
out with decoder errors, or a crash, is UNDECODABLE.
"""
from __future__ import annotations

from chalicelib.errors import ErrorCode, TaskFailed
from chalicelib.ffmpeg import input_args, last_lines, run_ffmpeg, source_error
from chalicelib.settings import get_settings

_ENCODERS: dict[str, list[str]] = {
    "jpg": ["-c:v", "mjpeg", "-q:v", "3"],
    "png": ["-c:v", "png"],
    "webp": ["-c:v", "libwebp", "-quality", "80"],
}
_PICK = "fps=fps=1/100000:round=up:start_time=0"
_BACKOFF = (0.0, 3.0, 30.0)  # seconds before T to seek to on a retry; the last run starts at 0


def extract_frame(url: str, seconds: float, keyframe: bool, size: tuple[int, int], fmt: str, timeout: float,
                  *, max_pixels: int | None = None) -> bytes:
    """The encoded image (`fmt`, one of FORMATS) of the frame at `seconds`, scaled to `size`."""
    seeks = sorted({max(0.0, seconds - back) for back in _BACKOFF} | {0.0}, reverse=True)
    for seek in seeks:
        result = run_ffmpeg(extract_args(url, seconds, seek, keyframe, size, fmt, max_pixels), timeout)
        if result.returncode < 0:
            raise TaskFailed(ErrorCode.UNDECODABLE, f"ffmpeg crashed (signal {-result.returncode}) at {seconds:g} s")
        if result.returncode != 0:
            raise source_error(result.stderr) or TaskFailed(
                ErrorCode.UNDECODABLE, f"ffmpeg failed at {seconds:g} s: {last_lines(result.stderr)}")
        if result.stdout:
            return result.stdout
    # the run from 0 read the whole video stream: decoder errors or nothing at all
    if result.stderr.strip():
        raise TaskFailed(ErrorCode.UNDECODABLE, f"no frame decoded at {seconds:g} s: {last_lines(result.stderr)}")
    raise TaskFailed(ErrorCode.TIME_OUT_OF_RANGE, f"no video frame at {seconds:g} s: past the end of the video")


def extract_args(url: str, seconds: float, seek: float, keyframe: bool, size: tuple[int, int], fmt: str,
                 max_pixels: int | None = None) -> list[str]:
    """The ffmpeg arguments of one run of extract_frame (see the module docstring)."""
    if fmt not in _ENCODERS:
        raise ValueError(f"unknown format {fmt!r}")
    limit = get_settings().max_source_pixels if max_pixels is None else max_pixels
    first = keyframe and seek == seconds and seek > 0
    options = ["-skip_frame", "nokey"] if first else []
    options += ["-ss", f"{seek:.6f}", "-noaccurate_seek", "-max_pixels", str(limit)]
    chain = [f"setpts=PTS-{seconds:.6f}/TB"]
    if first:
        chain += ["trim=end_pts=1"]
    elif seek > 0:
        # frames after T may only follow a frame at or before T (else the seek landed late: retry)
        before = "eq(key\\,1)*lte(t\\,0)" if keyframe else "lte(t\\,0)"
        chain += ["trim=end=1", f"select='{before}+gt(t\\,0)*not(isnan(prev_selected_t))'", _PICK]
    else:
        chain += ["select='eq(key\\,1)+gt(t\\,0)'", _PICK] if keyframe else [_PICK]
    chain += [f"scale={size[0]}:{size[1]}", "setsar=1"]
    return ["-hide_banner", "-loglevel", "error", *input_args(url, options), "-copyts", "-start_at_zero",
            "-map", "0:V:0", "-vf", ",".join(chain), "-fps_mode", "passthrough", "-frames:v", "1",
            *_ENCODERS[fmt], "-f", "image2pipe", "pipe:1"]
