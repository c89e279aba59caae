"""The one place that finds and runs the ffmpeg binary bundled by imageio-ffmpeg."""
from __future__ import annotations

from functools import lru_cache

import imageio_ffmpeg


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg (imageio-ffmpeg ships no ffprobe)."""
    return imageio_ffmpeg.get_ffmpeg_exe()
