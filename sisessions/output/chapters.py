"""A session's chapters (introduction, each item and side, closing) as ID3 CHAP/CTOC and JSON."""
from __future__ import annotations

import json
from dataclasses import dataclass

from mutagen.id3 import CHAP, CTOC, TIT2, CTOCFlags

from sisessions.plan.timeline import Kind, Timeline

INTRO = "Introduction"
CLOSING = "Closing"
NO_OFFSET = 0xFFFFFFFF  # "byte offsets unknown": players seek by time, which is exact
JSON_VERSION = "1.2.0"  # Podcasting 2.0 JSON chapters


@dataclass(frozen=True)
class Chapter:
    start: int        # sample frames
    end: int
    title: str
    first: int        # index of its first cue in the timeline
    stop: int         # one past its last cue
    item: int | None  # the session item, None for the introduction and closing


def chapters(tl: Timeline) -> tuple[Chapter, ...]:
    """Contiguous chapters covering the whole timeline, in order.

    The spoken opening before the first item is the introduction; an item (and each side of
    a `both` item) is one chapter from its chime; the rest after an item and the closing
    chime stay with that item, and the spoken outro is the closing.
    """
    cues = tl.cues
    last_item = max((i for i, c in enumerate(cues) if c.item is not None), default=-1)
    marks: list[tuple[int, str, int | None]] = []  # (first cue, title, item)
    prev = None  # (item, side) of the cue before, None after a cue outside any item
    closing = False
    for i, c in enumerate(cues):
        if c.item is not None:
            key = (c.item, c.side)
            if key != prev:  # a new item, or the next pass of the same one after a rest
                marks.append((i, _item_title(tl, c.pattern, c.side), c.item))
            prev = key
            continue
        prev = None
        if not marks:
            marks.append((i, INTRO, None))
        elif i > last_item and c.kind == Kind.SAY and not closing:
            marks.append((i, CLOSING, None))
            closing = True
    out = []
    for n, (first, title, item) in enumerate(marks):
        stop = marks[n + 1][0] if n + 1 < len(marks) else len(cues)
        out.append(Chapter(cues[first].start, cues[stop - 1].end, title, first, stop, item))
    return tuple(out)


def _item_title(tl: Timeline, pattern: str | None, side: str | None) -> str:
    title = tl.titles.get(pattern, pattern or "")
    return f"{title} ({side} side)" if side else title


def ms(frames: int, rate: int) -> int:
    return round(frames * 1000 / rate)


def id3_frames(chs: tuple[Chapter, ...], toc_title: str, rate: int) -> list:
    """One CHAP per chapter and a top-level, ordered CTOC naming them (ID3v2 chapter spec)."""
    frames = []
    ids = []
    for n, ch in enumerate(chs):
        eid = f"ch{n}"
        ids.append(eid)
        frames.append(CHAP(element_id=eid, start_time=ms(ch.start, rate), end_time=ms(ch.end, rate),
                           start_offset=NO_OFFSET, end_offset=NO_OFFSET,
                           sub_frames=[TIT2(encoding=3, text=[ch.title])]))
    frames.insert(0, CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                          child_element_ids=ids, sub_frames=[TIT2(encoding=3, text=[toc_title])]))
    return frames


def read_id3(tags) -> list[tuple[float, float, str]]:
    """(start s, end s, title) of an MP3's CHAP frames, in the CTOC's order when there is one."""
    chaps = {f.element_id: f for f in tags.getall("CHAP")}
    order = []
    for toc in tags.getall("CTOC"):
        if toc.flags & CTOCFlags.TOP_LEVEL:
            order = [e for e in toc.child_element_ids if e in chaps]
            break
    if not order:
        order = sorted(chaps, key=lambda e: chaps[e].start_time)
    out = []
    for eid in order:
        f = chaps[eid]
        title = f.sub_frames.get("TIT2")
        out.append((f.start_time / 1000, f.end_time / 1000, str(title.text[0]) if title else eid))
    return out


def json_chapters(chs: list[tuple[float, float, str]], file_name: str, title: str = "") -> str:
    """Podcasting 2.0 JSON chapters for the feed's podcast:chapters element."""
    data = {"version": JSON_VERSION, "title": title, "author": "sisessions", "fileName": file_name,
            "chapters": [{"startTime": round(s, 3), "endTime": round(e, 3), "title": t} for s, e, t in chs]}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
