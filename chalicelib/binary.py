"""Makes a bundled executable runnable from a deployment package.

`chalice package` drops the execute bit of files it zips (imageio-ffmpeg's binary is
0755 in the wheel, 0644 in deployment.zip) and Lambda's code directory is read-only,
so such a binary is copied once into the temp dir (/tmp on Lambda) with mode 0755.
imageio_ffmpeg.get_ffmpeg_exe() cannot find it there: it runs its candidate to check
it, fails, and looks for a system ffmpeg Lambda lacks; hence `bundled_ffmpeg`.
"""
from __future__ import annotations

import hashlib
import importlib.resources
import os
import shutil
import stat
import tempfile
import threading

COPY_DIR = "mps-thumbnail-bin"
_lock = threading.Lock()
_copies: dict[str, str] = {}


def bundled_ffmpeg() -> str:
    """The ffmpeg binary inside the imageio-ffmpeg package, found without running it."""
    from imageio_ffmpeg._definitions import FNAME_PER_PLATFORM, get_platform

    return str(importlib.resources.files("imageio_ffmpeg.binaries") / FNAME_PER_PLATFORM[get_platform()])


def runnable(path: str) -> str:
    """`path` if it may be executed, else the path of an executable copy (made once per process)."""
    if os.access(path, os.X_OK):
        return path
    with _lock:
        copy = _copies.get(path)
        if copy is None:
            copy = _copies[path] = _copy_executable(path)
    return copy


def _copy_executable(path: str) -> str:
    # One folder per source path, so two bundled binaries with the same name cannot collide.
    folder = os.path.join(tempfile.gettempdir(), COPY_DIR, hashlib.sha256(path.encode()).hexdigest()[:16])
    os.makedirs(folder, exist_ok=True)
    dest = os.path.join(folder, os.path.basename(path))
    # A warm Lambda sandbox keeps /tmp between processes: reuse a complete earlier copy.
    if os.access(dest, os.X_OK) and os.path.getsize(dest) == os.path.getsize(path):
        return dest
    # Write beside the destination and rename, so no process ever runs a half-written file.
    fd, partial = tempfile.mkstemp(dir=folder, prefix=".partial-")
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        os.chmod(partial, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        os.replace(partial, dest)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    return dest
