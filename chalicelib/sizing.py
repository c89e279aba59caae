"""The size of the output images, from the request and the picture as displayed.

Rules (W, H requested; DW, DH the displayed size after sample aspect and rotation):

- W = H = 0: DW x DH.
- One side given, the other 0: the other follows the displayed aspect ratio,
  e.g. W given: W x round(W * DH / DW). A given side larger than the displayed
  one is not enlarged: the result is then DW x DH.
- Both given: the client chose the shape (it may stretch the picture). If that
  box is larger than the displayed picture on either side, it is shrunk as a whole
  by min(DW / W, DH / H), keeping the requested shape, so no side exceeds the source.
- Sides are rounded to the nearest pixel and are at least 1; odd sizes are fine
  for every output format.
"""
from __future__ import annotations

from chalicelib.probe import VideoInfo


def output_size(info: VideoInfo, width: int, height: int) -> tuple[int, int]:
    """Width and height of the images for a request of `width` x `height` (0 = keep)."""
    dw, dh = info.display_width, info.display_height
    if width <= 0 and height <= 0:
        return dw, dh
    if height <= 0:
        return (dw, dh) if width >= dw else (width, _side(width * dh / dw))
    if width <= 0:
        return (dw, dh) if height >= dh else (_side(height * dw / dh), height)
    factor = min(1.0, dw / width, dh / height)
    return _side(width * factor), _side(height * factor)


def _side(length: float) -> int:
    return max(1, int(length + 0.5))
