"""ID3 tags for exported MP3s, written with mutagen as ID3v2.3 (what most players read)."""
from __future__ import annotations

import datetime
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
from sisessions.sources.cover import cover_png

ARTIST = "sisessions"
GENRE = "Speech"
COVER_SIZE = 600     # embedded: small, but sharp on a phone's lock screen


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
