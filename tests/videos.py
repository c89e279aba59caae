"""Test videos made at test time with the bundled ffmpeg; each frame shows its own number.

The number is drawn as BITS wide bars (white = 1, least significant bit on the
left), big enough to survive JPEG compression, scaling and rotation back to the
stored orientation, so a test can read back exactly which frame it got.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chalicelib.ffmpeg import ffmpeg_exe

BITS = 10


@dataclass(frozen=True)
class TestVideo:
    """A generated video and what a test needs to know about it."""

    __test__ = False  # a data class, not a pytest test class

    path: Path
    width: int
    height: int
    fps: int
    frames: int
    gop: int

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    def frame_shown_at(self, seconds: float) -> int:
        """The frame number a player shows at that time (constant frame rate)."""
        return min(int(seconds * self.fps + 1e-9), self.frames - 1)

    def keyframe_at_or_before(self, seconds: float) -> int:
        frame = self.frame_shown_at(seconds)
        return frame - frame % self.gop


def _picture(number: int, width: int, height: int) -> np.ndarray:
    img = np.zeros((height, width, 3), np.uint8)
    bar = width // BITS
    for bit in range(BITS):
        if (number >> bit) & 1:
            img[height // 6: height - height // 6, bit * bar:(bit + 1) * bar] = 255
    return img


def make_video(path: Path, *, width: int = 320, height: int = 240, fps: int = 25,
               frames: int = 100, gop: int = 25, rotation: int = 0,
               codec: str = "libx264") -> TestVideo:
    """Encodes a frame-numbered video; B-frames on, a keyframe every `gop` frames."""
    raw = b"".join(_picture(n, width, height).tobytes() for n in range(frames))
    encode = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
              "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
              "-c:v", codec, "-pix_fmt", "yuv420p", "-g", str(gop), "-keyint_min", str(gop),
              "-sc_threshold", "0", "-bf", "2", "-movflags", "+faststart"]
    target = path if not rotation else path.with_suffix(".unrotated" + path.suffix)
    subprocess.run(encode + [str(target)], input=raw, check=True)
    if rotation:
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-display_rotation:v:0", str(rotation),
                        "-i", str(target), "-c", "copy", "-movflags", "+faststart", str(path)], check=True)
        target.unlink()
    return TestVideo(path, width, height, fps, frames, gop)


def read_frame_number(image: bytes, rotation: int = 0) -> int:
    """Reads back the number drawn by make_video from an encoded image (jpg/png/webp).

    `rotation` is the display rotation of the source (ffmpeg's counter-clockwise
    degrees); the picture is turned back to the stored orientation first.
    """
    w, h = image_size(image)
    turn = {0: "", 90: ",transpose=1", -90: ",transpose=2", 270: ",transpose=2", 180: ",hflip,vflip",
            -180: ",hflip,vflip"}[rotation]
    gray = subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "image2pipe", "-i", "-",
                           "-vf", f"format=gray{turn}", "-f", "rawvideo", "-"],
                          input=image, capture_output=True, check=True).stdout
    if rotation in (90, -90, 270):
        w, h = h, w
    pixels = np.frombuffer(gray, np.uint8)[: w * h].reshape(h, w)
    bar = w / BITS
    row = pixels[h // 2]
    return sum(1 << bit for bit in range(BITS) if row[int(bit * bar + bar / 2)] > 128)


def image_size(image: bytes) -> tuple[int, int]:
    """Width and height of an encoded image, as ffmpeg decodes it."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-f", "image2pipe", "-i", "-"],
                         input=image, capture_output=True).stderr.decode()
    for line in out.splitlines():
        if "Video:" in line:
            for token in line.replace(",", " ").split():
                if "x" in token and token.split("x")[0].isdigit() and token.split("x")[1].isdigit():
                    w, h = token.split("x")
                    return int(w), int(h)
    raise AssertionError(f"not an image: {out}")
