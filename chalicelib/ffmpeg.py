"""The one place that finds and runs the ffmpeg binary bundled by imageio-ffmpeg.

Sources are untrusted: every input is opened through `input_args`, which lets
ffmpeg read nothing but the presigned http(s) URL itself (no local files, no
playlists or concat scripts that would make it open other URLs) and only in a
container format we mean to support.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from functools import lru_cache

from chalicelib.binary import bundled_ffmpeg, runnable
from chalicelib.errors import ErrorCode, TaskFailed

# What a presigned S3 URL needs, and nothing else (no file, concat, hls, data, subfile, crypto...).
ALLOWED_PROTOCOLS = "https,http,tls,tcp"
# Demuxers of video containers and raw video streams; excludes hls, dash, concat and
# image2, which read further URLs or files named inside the source.
ALLOWED_FORMATS = "mov,matroska,mpegts,mpeg,mxf,avi,flv,asf,ogg,nut,dv,gif,ivf,obu,h264,hevc,m4v"
# Lambda gives up to 6 vCPUs; one image per run gains little from more decoder threads.
DECODER_THREADS = str(max(1, min(os.cpu_count() or 1, 4)))


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg (imageio-ffmpeg ships no ffprobe)."""
    return runnable(bundled_ffmpeg())


@lru_cache(maxsize=1)
def _env() -> dict[str, str]:
    # The static build's glibc loads the host's iconv modules and SIGSEGVs on MPEG-TS
    # input; a GCONV_PATH that does not exist keeps it on its built-in converters.
    missing = os.path.join(tempfile.gettempdir(), "mps-thumbnail-no-gconv")
    return {**os.environ, "GCONV_PATH": missing}


def input_args(url: str, options: Sequence[str] = ()) -> list[str]:
    """Arguments that open one untrusted source URL; `options` go right before `-i` (seek, skip_frame)."""
    return ["-protocol_whitelist", ALLOWED_PROTOCOLS, "-format_whitelist", ALLOWED_FORMATS,
            "-threads", DECODER_THREADS, *options, "-i", url]


def run_ffmpeg(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Runs ffmpeg with `args`; past `timeout` seconds its process group is killed and TIMED_OUT raised.

    The exit status is not checked: callers read stderr to tell what went wrong.
    """
    cmd = [ffmpeg_exe(), "-nostdin", *args]
    with subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=_env(), start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended in the meantime
                pass
            proc.communicate()
            raise TaskFailed(ErrorCode.TIMED_OUT, f"ffmpeg ran longer than {timeout:g} s") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def source_error(stderr: bytes) -> TaskFailed | None:
    """The error an ffmpeg run's log shows about reading the source itself, if any."""
    log = stderr.decode("utf-8", "replace")
    if "Server returned 404" in log:
        return TaskFailed(ErrorCode.SOURCE_NOT_FOUND, "the source URL answered 404")
    if "Server returned 403" in log:
        return TaskFailed(ErrorCode.SOURCE_ACCESS_DENIED, "the source URL answered 403")
    if "exceeds specified max pixel count" in log:
        return TaskFailed(ErrorCode.SOURCE_TOO_LARGE, "a frame is larger than the pixel limit")
    return None


def last_lines(stderr: bytes, count: int = 3) -> str:
    """The tail of ffmpeg's log, for TaskFailed messages (which only reach logs)."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return " | ".join(lines[-count:])
