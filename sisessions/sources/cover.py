"""The cover picture, drawn by the program: for the MP3s' tags, the podcast feed, the
companion page and MPRIS."""
from __future__ import annotations

import functools
import struct
import zlib

FEED_SIZE = 1400  # podcast apps ask for at least 1400 x 1400

# dusk colours: calm, low contrast, readable as a thumbnail
_TOP = (34, 40, 78)
_BOTTOM = (76, 128, 140)
_MOON = (240, 226, 196)
_WAVE = (200, 222, 220)


@functools.lru_cache(maxsize=4)
def cover_png(size: int) -> bytes:
    """A square PNG: a dusk gradient, a low moon and three slow waves (a spine at rest).

    Drawn a layer at a time with numpy (each over the band of rows it touches) and packed with
    zlib, so no image library and no asset file is needed: a 1400 px cover takes a fraction of
    a second (a pixel at a time in Python it took 2 s, on every `feed`)."""
    import numpy as np  # late: only what draws the cover needs it

    y = np.arange(size, dtype=np.float64)[:, None]          # a column of rows
    x = np.arange(size, dtype=np.float64)[None, :]          # a row of columns
    sky = np.round(np.array(_TOP) + (np.array(_BOTTOM) - np.array(_TOP)) * (y / max(1, size - 1)))
    img = np.repeat(sky[:, None, :], size, axis=1)           # size x size x RGB, whole numbers
    # the moon: a disc, its edge softened over one pixel (within the span each row draws)
    cx, cy, r = size * 0.68, size * 0.32, size * 0.13
    band = _band(np.abs(y + 0.5 - cy) < r + 1)
    cols = slice(max(0, int(cx - r) - 1), min(size, int(cx + r) + 2))
    dy, xs = y[band] + 0.5 - cy, x[:, cols]
    half = np.sqrt(np.maximum(0.0, r * r - dy * dy))
    span = (xs >= np.maximum(0, np.trunc(cx - half) - 1)) & (xs < np.minimum(size, np.trunc(cx + half) + 2))
    a = np.clip(r - np.hypot(xs + 0.5 - cx, dy) + 0.5, 0.0, 1.0)
    _blend(img[band, cols], span & (a > 0), _MOON, a)
    # three waves, each a thin sine line across the lower half
    width = max(1.0, size / 200)
    for k in range(3):
        base, amp, strength = size * (0.62 + 0.1 * k), size * (0.03 - 0.006 * k), 0.9 - 0.2 * k
        band = _band(np.abs(y - base) <= amp + 2 * width)
        wy = base + amp * np.sin(2 * np.pi * x / size * (1.5 + 0.25 * k) + k)
        a = width - np.abs(y[band] + 0.5 - wy)
        _blend(img[band], a > 0, _WAVE, np.minimum(1.0, a) * strength)
    rows = np.zeros((size, 1 + 3 * size), dtype=np.uint8)   # filter type 0 before every row
    rows[:, 1:] = img.reshape(size, 3 * size)
    return _png(size, size, rows.tobytes())


def _band(rows) -> slice:
    """The rows (a column of booleans) as one slice, from the first true one to the last."""
    at = rows.ravel().nonzero()[0]
    return slice(int(at[0]), int(at[-1]) + 1) if at.size else slice(0, 0)


def _blend(part, where, colour: tuple[int, int, int], a) -> None:
    """Mix `colour` into `part` (a view of the picture) by `a` where `where` holds, rounded to
    whole numbers as a byte holds them."""
    import numpy as np

    mixed = np.round(part + (np.array(colour) - part) * a[..., None])
    np.copyto(part, mixed, where=where[..., None])


def _png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
