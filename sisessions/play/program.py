"""The untimed program: the events to play (an optional pre-roll, then the session), the length
of each in frames (a spoken line's is a guess until its clip is known), its patterns as blocks,
and where next/back go."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from sisessions.errors import UsageError
from sisessions.plan.timeline import (
    CHIME_FRAMES,
    Event,
    Kind,
    estimate_speech_seconds,
    seconds_to_frames,
)


@dataclass(frozen=True)
class Block:
    """One pattern done once: a run of events of the same session item and side."""

    start: int
    end: int                     # exclusive
    pattern: str
    side: str | None
    number: int                  # 1-based among the blocks


@dataclass(frozen=True)
class Item:
    """One item of the play, as every frontend names it (the terminal, MPRIS, the closing
    sentence): a pattern done once (with its side), or the pre-roll, the opening, a rest
    between patterns, or the closing. The one place these names are written."""

    key: str                     # stable within a play: "preroll", "item3", "gap0"
    title: str                   # "Slow Reach (left side)", "Starting soon", "Opening", "Rest", "Closing"
    start: int                   # its first event
    end: int                     # exclusive
    block: Block | None          # the pattern done, for a pattern's item

    @property
    def pattern(self) -> str | None:
        return self.block.pattern if self.block is not None else None


PREROLL, OPENING, REST, CLOSING = "Starting soon", "Opening", "Rest", "Closing"


def announce_text(delay: float) -> str:
    n = int(round(delay))
    if n >= 120 and n % 60 == 0:
        return f"Starting in {n // 60} minutes."
    return f"Starting in {n} second{'s' if n != 1 else ''}."



class Program:
    """The events to play and their lengths in frames (guessed for lines not yet voiced)."""

    def __init__(self, events: tuple[Event, ...], titles: dict[str, str], wpm: int,
                 delay: float = 0.0, announce: bool = False, lead: tuple[str, ...] = (),
                 name: str | None = None):
        """`lead`: lines said before the pre-roll (the answer to the check); `name`: what this
        program's parts outside any pattern are called (a question alone: "How is the pain?")."""
        pre: list[Event] = [Event(Kind.SAY, text=line) for line in lead]
        self._announce_at: int | None = None
        if delay > 0:
            if announce:
                self._announce_at = len(pre)
                pre.append(Event(Kind.SAY, text=announce_text(delay)))
            pre.append(Event(Kind.PAUSE, seconds=delay))
        self.events = tuple(pre) + tuple(events)
        self.first = len(pre)
        self.name = name
        self.titles = titles
        self.delay_frames = seconds_to_frames(delay)
        self.wpm = wpm
        self.lengths = [self._guess(e) for e in self.events]
        self.known = [e.kind != Kind.SAY for e in self.events]
        self.say_at: dict[str, list[int]] = {}
        for i, e in enumerate(self.events):
            if e.kind == Kind.SAY:
                self.say_at.setdefault(e.text, []).append(i)
        self.says = [i for i, e in enumerate(self.events) if e.kind == Kind.SAY]
        self.blocks = self._blocks()
        self._sums: list[int] | None = None
        if self._announce_at is not None:
            self._fit_preroll()

    def _guess(self, e: Event) -> int:
        if e.kind == Kind.PAUSE:
            return seconds_to_frames(e.seconds)
        if e.kind == Kind.CHIME:
            return CHIME_FRAMES
        return seconds_to_frames(estimate_speech_seconds(e.text, self.wpm))

    def _blocks(self) -> tuple[Block, ...]:
        blocks, start, key = [], None, None
        for i, e in enumerate(self.events[self.first:] + (Event(Kind.PAUSE),), self.first):
            k = (e.item, e.side, e.pattern) if e.item is not None else None
            if k != key:
                if key is not None:
                    blocks.append(Block(start, i, key[2], key[1], len(blocks) + 1))
                start, key = i, k
        return tuple(blocks)

    def texts(self) -> list[str]:
        """Distinct lines in order of first use."""
        return list(self.say_at)

    def set_frames(self, text: str, frames: int) -> None:
        at = self.say_at.get(text, ())
        if all(self.known[i] and self.lengths[i] == frames for i in at):
            return  # already so (primed): keep the positions summed, the audio thread reads them
        for i in at:
            self.lengths[i] = frames
            self.known[i] = True
        if self._announce_at is not None and self.events[self._announce_at].text == text:
            self._fit_preroll()
        self._sums = None

    def _fit_preroll(self) -> None:
        """The announcement and the silence after it last --delay together."""
        k = self._announce_at
        self.lengths[k + 1] = max(0, self.delay_frames - self.lengths[k])

    # -- positions on the session's own clock (the pre-roll is not part of it)
    def _prefix(self) -> list[int]:
        sums = self._sums  # the voice thread may reset it at any moment: read it once
        if sums is None:
            sums = [0, *itertools.accumulate(self.lengths[self.first:])]
            self._sums = sums
        return sums

    def position(self, index: int, offset: int) -> int:
        if index < self.first:
            return 0
        sums = self._prefix()
        return sums[min(index - self.first, len(sums) - 1)] + offset

    @property
    def total(self) -> int:
        return self._prefix()[-1]

    @property
    def all_known(self) -> bool:
        return all(self.known)

    def preroll_left(self, index: int, offset: int) -> int:
        return sum(self.lengths[index:self.first]) - offset if index < self.first else 0

    # -- items and their names
    def title(self, block: Block) -> str:
        """A pattern done once, as the person reads it: its title, with its side."""
        side = f" ({block.side} side)" if block.side else ""
        return f"{self.titles.get(block.pattern, block.pattern)}{side}"

    def item_at(self, index: int) -> Item | None:
        """The item holding event `index`; None past the end."""
        if index >= len(self.events):
            return None
        if index < self.first:
            return Item("preroll", PREROLL, 0, self.first, None)
        b = self.block_at(index)
        if b is not None:
            return Item(f"item{b.number}", self.title(b), b.start, b.end, b)
        before = [x for x in self.blocks if x.end <= index]
        k = len(before)
        start = before[-1].end if before else self.first
        end = self.blocks[k].start if k < len(self.blocks) else len(self.events)
        title = (self.name or OPENING) if k == 0 else CLOSING if k == len(self.blocks) else REST
        return Item(f"gap{k}", title, start, end, None)

    # -- navigation
    def block_at(self, index: int) -> Block | None:
        for b in self.blocks:
            if b.start <= index < b.end:
                return b
        return None

    def last_block_before(self, index: int) -> Block | None:
        """The block being done or most recently done at `index`."""
        found = None
        for b in self.blocks:
            if b.start <= index:
                found = b
        return found

    def next_target(self, index: int) -> int | None:
        """n: the start of the next pattern; after the last one, its closing part."""
        if index < self.first:
            return self.first
        for b in self.blocks:
            if b.start > index:
                return b.start
        end = self.blocks[-1].end if self.blocks else len(self.events)
        return end if end > index and end < len(self.events) else None

    def back_target(self, index: int) -> int:
        """b: the start of this pattern (or of the one just done, in a rest)."""
        b = self.last_block_before(index)
        return b.start if b is not None else self.first

    def from_pattern(self, pattern: str, session: str) -> int:
        for b in self.blocks:
            if b.pattern == pattern:
                return b.start
        raise UsageError(f"--from {pattern}: that pattern is not in session '{session}' today")

