"""Draw the two icons of the Microsoft Teams app package: color.png and outline.png.

Run it from anywhere to regenerate the PNGs beside this script:

    python manifest/teams/make_icons.py

- `color.png`, 192x192: a rounded square in the accent colour #1D4F91 with a white upward arrow
  (savings going the right way), antialiased, transparent outside the rounded corners.
- `outline.png`, 32x32: the same arrow in white on a fully transparent background. Teams asks for
  white and transparent only, so this one is drawn crisp (every pixel is opaque white or fully
  transparent) rather than antialiased.

Pure Python (zlib + struct), no third-party packages, and deterministic: the same code always
writes the same bytes, so the committed PNGs can be checked against it.
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent

ACCENT = (0x1D, 0x4F, 0x91)
WHITE = (255, 255, 255)

Pixel = tuple[int, int, int, int]  # RGBA, 0-255
Shape = Callable[[float, float], bool]  # is the point (x, y), in pixels, inside the shape?


def png_bytes(width: int, height: int, pixels: list[list[Pixel]]) -> bytes:
    """Encode rows of RGBA pixels as an 8-bit RGBA PNG (colour type 6, no interlace)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    if len(pixels) != height or any(len(row) != width for row in pixels):
        raise ValueError(f"expected {height} rows of {width} pixels")
    # Each scanline starts with its filter type; 0 (None) keeps the encoder trivial.
    raw = b"".join(b"\x00" + bytes(channel for pixel in row for channel in pixel) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def rounded_square(size: float, radius: float) -> Shape:
    """The square [0, size]² with corners rounded to `radius`."""

    def inside(x: float, y: float) -> bool:
        if not (0 <= x <= size and 0 <= y <= size):
            return False
        cx = min(max(x, radius), size - radius)  # nearest point of the inner square
        cy = min(max(y, radius), size - radius)
        return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2

    return inside


def up_arrow(size: float) -> Shape:
    """An upward arrow centred in a `size` square: a triangular head over a rectangular shaft."""
    centre = size / 2
    apex, base = 0.18 * size, 0.50 * size  # head, top to bottom
    head_half = 0.24 * size
    shaft_half, shaft_bottom = 0.085 * size, 0.82 * size

    def inside(x: float, y: float) -> bool:
        if apex <= y <= base:
            return abs(x - centre) <= head_half * (y - apex) / (base - apex)
        return base < y <= shaft_bottom and abs(x - centre) <= shaft_half

    return inside


def render(size: int, layers: list[tuple[Shape, tuple[int, int, int]]], samples: int) -> list:
    """Rasterise shapes painted in order (later on top) with `samples`² samples per pixel.

    With samples=1 each pixel is sampled at its centre only, so edges stay crisp.
    """
    pixels: list[list[Pixel]] = []
    step = 1 / samples
    offsets = [(i + 0.5) * step for i in range(samples)]
    for py in range(size):
        row: list[Pixel] = []
        for px in range(size):
            red = green = blue = alpha = 0.0
            for oy in offsets:
                for ox in offsets:
                    colour = None
                    for shape, fill in layers:
                        if shape(px + ox, py + oy):
                            colour = fill
                    if colour is not None:  # premultiplied accumulation
                        red, green, blue, alpha = (
                            red + colour[0],
                            green + colour[1],
                            blue + colour[2],
                            alpha + 1,
                        )
            if alpha == 0:
                row.append((0, 0, 0, 0))
            else:
                row.append(
                    (
                        round(red / alpha),
                        round(green / alpha),
                        round(blue / alpha),
                        round(255 * alpha / samples**2),
                    )
                )
        pixels.append(row)
    return pixels


def color_icon(size: int = 192) -> bytes:
    layers = [(rounded_square(size, 0.19 * size), ACCENT), (up_arrow(size), WHITE)]
    return png_bytes(size, size, render(size, layers, samples=4))


def outline_icon(size: int = 32) -> bytes:
    return png_bytes(size, size, render(size, [(up_arrow(size), WHITE)], samples=1))


def main(out: Path = HERE) -> None:
    for name, data in (("color.png", color_icon()), ("outline.png", outline_icon())):
        (out / name).write_bytes(data)
        print(f"wrote {out / name} ({len(data)} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
