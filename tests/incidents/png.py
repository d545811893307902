"""Reading a chart back: its size from the PNG header, and how much of a colour it shows."""

from __future__ import annotations

import io
import struct

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk comes first
    return int(width), int(height)


def pixels_like(png: bytes, colour: str) -> int:
    """How many pixels are (nearly) exactly ``colour``."""
    from matplotlib.colors import to_rgb
    from matplotlib.image import imread

    image = imread(io.BytesIO(png), format="png")
    r, g, b = to_rgb(colour)
    close = (
        (abs(image[..., 0] - r) < 0.03)
        & (abs(image[..., 1] - g) < 0.03)
        & (abs(image[..., 2] - b) < 0.03)
    )
    return int(close.sum())
