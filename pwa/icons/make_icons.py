"""Draw the app's icons (PNG 192/512, a maskable 512, and the SVG) without any library.

Run from this folder: `python make_icons.py`. A house with a heart, white on the brand
green; the maskable variant keeps the drawing inside the central safe circle.
"""

from __future__ import annotations

import struct
import zlib

BRAND = (15, 107, 92)
WHITE = (255, 255, 255)
HEART = (232, 96, 76)


def _in_triangle(x: float, y: float) -> bool:
    # apex (0.5, 0.2), base from (0.17, 0.47) to (0.83, 0.47)
    if y > 0.47 or y < 0.2:
        return False
    half = (y - 0.2) / 0.27 * 0.33
    return abs(x - 0.5) <= half


def _in_heart(x: float, y: float) -> bool:
    u = (x - 0.5) / 0.12
    v = -(y - 0.63) / 0.12
    return (u * u + v * v - 1) ** 3 - u * u * v**3 <= 0


def colour_at(x: float, y: float, scale: float) -> tuple[int, int, int]:
    """The colour of the drawing at (x, y) in the unit square; `scale` shrinks it."""
    x = 0.5 + (x - 0.5) / scale
    y = 0.5 + (y - 0.5) / scale
    if _in_heart(x, y):
        return HEART
    if _in_triangle(x, y) or (0.27 <= x <= 0.73 and 0.45 <= y <= 0.8):
        return WHITE
    return BRAND


def _inside_rounded(x: float, y: float, radius: float) -> bool:
    cx = min(max(x, radius), 1 - radius)
    cy = min(max(y, radius), 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def draw(size: int, *, maskable: bool) -> bytes:
    """An RGBA PNG of the icon at `size` pixels."""
    samples = 3
    scale = 0.8 if maskable else 1.0
    rows = []
    for py in range(size):
        row = bytearray([0])
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(samples):
                for sx in range(samples):
                    x = (px + (sx + 0.5) / samples) / size
                    y = (py + (sy + 0.5) / samples) / size
                    if not maskable and not _inside_rounded(x, y, 0.18):
                        continue
                    r, g, b = colour_at(x, y, scale)
                    acc[0] += r
                    acc[1] += g
                    acc[2] += b
                    acc[3] += 255
            n = samples * samples
            covered = acc[3] // 255
            if covered:
                row += bytes((acc[0] // covered, acc[1] // covered, acc[2] // covered))
            else:
                row += bytes((0, 0, 0))
            row.append(acc[3] // n)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
  <rect width="100" height="100" rx="18" fill="#0f6b5c"/>
  <path d="M50 20 L83 47 L17 47 Z" fill="#fff"/>
  <rect x="27" y="45" width="46" height="35" fill="#fff"/>
  <path d="M50 72 C38 64 37 57 40 54 C43 51 48 52 50 56 C52 52 57 51 60 54 C63 57 62 64 50 72 Z"
        fill="#e8604c"/>
</svg>
"""

if __name__ == "__main__":
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("maskable-512.png", 512, True),
    ):
        with open(name, "wb") as f:
            f.write(draw(size, maskable=maskable))
    with open("icon.svg", "w", encoding="utf-8") as f:
        f.write(SVG)
