"""ID3 tags for exported MP3s, written with mutagen as ID3v2.3 (what most players read)."""
from __future__ import annotations

import datetime
import functools
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from mutagen.id3 import (
    APIC,
    COMM,
    ID3,
    TALB,
    TCON,
    TDRC,
    TIT2,
    TLEN,
    TPE1,
    TPE2,
    TRCK,
    USLT,
    ID3NoHeaderError,
    PictureType,
)

from sisessions.output import chapters as chap
from sisessions.output import transcript
from sisessions.plan.timeline import Timeline

ARTIST = "sisessions"
GENRE = "Speech"
COVER_SIZE = 600     # embedded: small, but sharp on a phone's lock screen
FEED_COVER_SIZE = 1400  # podcast apps ask for at least 1400 x 1400


@dataclass(frozen=True)
class TagInfo:
    """What the tags say beyond the timeline itself."""

    album: str = ARTIST               # the library's or the programme's name
    engine: str | None = None         # "espeak en-us, 110 wpm": for the comment
    date: str | None = None           # YYYY-MM-DD; None: today
    track: tuple[int, int] | None = None  # (number, total)
    chapters: bool = True


def _sided(tl: Timeline) -> bool:
    return any(c.side for c in tl.cues)


def _side_words(side: str) -> str:
    return "both sides" if side == "both" else f"{side} side"


def session_title(tl: Timeline) -> str:
    return f"{tl.title} ({_side_words(tl.side)})" if tl.side and _sided(tl) else tl.title


def comment(tl: Timeline, info: TagInfo) -> str:
    parts = [_side_words(tl.side) if tl.side and _sided(tl) else "no side needed", f"pace {tl.pace:g}"]
    if info.engine:
        parts.append(f"voice {info.engine}")
    return "sisessions: " + ", ".join(parts)


class _ChaptersInOrder(ID3):
    """mutagen writes frames ordered by size (quodlibet/mutagen#506), and ffmpeg and several
    phone players list CHAP frames in file order; so the chapters go last, in time order.

    A private API, since mutagen has no public way to order frames: `_write` and
    `mutagen.id3._tags.save_frame` (tests/test_layout.py fails first if they change)."""

    def _write(self, config):
        chaps = self.getall("CHAP")
        if not chaps:
            return super()._write(config)
        from mutagen.id3._tags import save_frame

        self.delall("CHAP")
        try:
            head = super()._write(config)
        finally:
            for c in chaps:
                self.add(c)
        return head + b"".join(save_frame(c, config=config) for c in sorted(chaps, key=lambda c: c.start_time))


def write_tags(path: Path, tl: Timeline, info: TagInfo | str = TagInfo(),
               part: chap.Chapter | None = None) -> None:
    """Tag a whole session (with chapters), or with `part` one split track of it."""
    if isinstance(info, str):  # the album alone, as earlier callers pass it
        info = TagInfo(album=info)
    try:
        tags = _ChaptersInOrder(str(path))
    except ID3NoHeaderError:
        tags = _ChaptersInOrder()
    start, end = (part.start, part.end) if part else (0, tl.frames)
    tags.add(TIT2(encoding=3, text=part.title if part else session_title(tl)))
    tags.add(TPE1(encoding=3, text=ARTIST))
    tags.add(TPE2(encoding=3, text=ARTIST))  # album artist: phones group split tracks by it
    # split tracks are grouped by the session, so a phone shows them as one album
    tags.add(TALB(encoding=3, text=session_title(tl) if part else info.album))
    tags.add(TCON(encoding=3, text=GENRE))
    tags.add(TDRC(encoding=3, text=info.date or datetime.date.today().isoformat()))
    if info.track:
        tags.add(TRCK(encoding=3, text=f"{info.track[0]}/{info.track[1]}"))
    tags.add(TLEN(encoding=3, text=str(round((end - start) * 1000 / tl.rate))))
    tags.add(COMM(encoding=3, lang="eng", desc="", text=comment(tl, info)))
    lines = transcript.lines(tl, start, end)
    tags.add(USLT(encoding=3, lang="eng", desc="", text=transcript.plain(lines)))
    tags.add(APIC(encoding=3, mime="image/png", type=PictureType.COVER_FRONT, desc="cover",
                  data=cover_png(COVER_SIZE)))
    if info.chapters and part is None:
        for frame in chap.id3_frames(chap.chapters(tl), session_title(tl), tl.rate):
            tags.add(frame)
    tags.update_to_v23()
    tags.save(str(path), v2_version=3)


# ---------------------------------------------------------------- the cover, drawn here

# dusk colours: calm, low contrast, readable as a thumbnail
_TOP = (34, 40, 78)
_BOTTOM = (76, 128, 140)
_MOON = (240, 226, 196)
_WAVE = (200, 222, 220)


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


@functools.lru_cache(maxsize=4)
def cover_png(size: int = COVER_SIZE) -> bytes:
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
