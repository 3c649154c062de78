"""The cover picture, drawn by the program: for the MP3s' tags, the podcast feed, the
companion page and MPRIS."""
from __future__ import annotations

import functools
import math
import struct
import zlib

FEED_SIZE = 1400  # podcast apps ask for at least 1400 x 1400

# dusk colours: calm, low contrast, readable as a thumbnail
_TOP = (34, 40, 78)
_BOTTOM = (76, 128, 140)
_MOON = (240, 226, 196)
_WAVE = (200, 222, 220)


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


@functools.lru_cache(maxsize=4)
def cover_png(size: int) -> bytes:
    """A square PNG: a dusk gradient, a low moon and three slow waves (a spine at rest).

    Drawn row by row with bytes operations and packed with zlib, so no image library and no
    asset file is needed; a 1400 px cover takes well under a second.
    """
    waves = []
    for k in range(3):
        base, amp = size * (0.62 + 0.1 * k), size * (0.03 - 0.006 * k)
        ys = [base + amp * math.sin(2 * math.pi * x / size * (1.5 + 0.25 * k) + k) for x in range(size)]
        waves.append((ys, base, amp, 0.9 - 0.2 * k))
    rows = [_row(size, y, waves) for y in range(size)]
    raw = b"".join(b"\x00" + bytes(r) for r in rows)  # filter type 0 on every row
    return _png(size, size, raw)


def _row(size: int, y: int, waves: list) -> bytearray:
    row = bytearray(bytes(_mix(_TOP, _BOTTOM, y / max(1, size - 1))) * size)
    # the moon: a disc, its edge softened over one pixel
    cx, cy, r = size * 0.68, size * 0.32, size * 0.13
    dy = y + 0.5 - cy
    if abs(dy) < r + 1:
        half = math.sqrt(max(0.0, r * r - dy * dy))
        for x in range(max(0, int(cx - half) - 1), min(size, int(cx + half) + 2)):
            d = math.hypot(x + 0.5 - cx, dy)
            a = min(1.0, max(0.0, r - d + 0.5))
            if a >= 1:
                row[3 * x:3 * x + 3] = bytes(_MOON)
            elif a > 0:
                _blend(row, x, _MOON, a)
    # three waves, each a thin sine line across the lower half
    width = max(1.0, size / 200)
    for ys, base, amp, strength in waves:
        if abs(y - base) > amp + 2 * width:
            continue
        for x, wy in enumerate(ys):
            a = width - abs(y + 0.5 - wy)
            if a > 0:
                _blend(row, x, _WAVE, min(1.0, a) * strength)
    return row


def _blend(row: bytearray, x: int, colour: tuple[int, int, int], a: float) -> None:
    i = 3 * x
    row[i:i + 3] = bytes(_mix(tuple(row[i:i + 3]), colour, a))


def _png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
