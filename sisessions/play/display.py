"""What is shown while playing: a view of the program and the feeder, drawn either as a few
lines redrawn in place (a terminal) or as plain timestamped lines (cron, a pipe)."""
from __future__ import annotations

import shutil
import textwrap
import time
from typing import TextIO

from sisessions.audio import RATE
from sisessions.plan.timeline import Kind, duration_text
from sisessions.play.feeder import Feeder
from sisessions.play.program import Block, Program


def clock(frames: int) -> str:
    """H:MM:SS or M:SS, as every length is written to the person."""
    return duration_text(frames / RATE)


class View:
    """What the display shows, taken from the feeder and the program."""

    def __init__(self, program: Program, feeder: Feeder, title: str):
        self.p = program
        self.f = feeder
        self.title = title
        self.line: str | None = None   # the current (or last) spoken line of the session

    def pattern_label(self, index: int) -> str:
        b = self.p.block_at(index)
        if index >= len(self.p.events):
            return "Done"
        if b is None:
            if index < self.p.first:
                return "Starting soon"
            if not self.p.blocks or index < self.p.blocks[0].start:
                return "Opening"
            if index >= self.p.blocks[-1].end:
                return "Closing"
            return "Rest"
        side = f" ({b.side} side)" if b.side else ""
        return f"{self.p.titles.get(b.pattern, b.pattern)}{side} · {b.number} of {len(self.p.blocks)}"

    def times(self) -> tuple[str, float]:
        index, offset = self.f.where()
        total = self.p.total
        if index < self.p.first:
            return f"starting in {clock(self.p.preroll_left(index, offset))}", 0.0
        pos = min(self.p.position(index, offset), total)
        approx = "" if self.p.all_known else "~"
        return f"{clock(pos)} / {approx}{clock(total)}", pos / total if total else 1.0

    def state(self) -> str:
        if self.f.paused:
            return "paused"
        if self.f.waiting:
            return "waiting for the voice"
        return ""


class TtyDisplay:
    """A few lines redrawn in place."""

    HELP = "space pause · n next · b back · r repeat · q quit"

    def __init__(self, view: View, out: TextIO, keys: bool):
        self.v = view
        self.out = out
        self.keys = keys
        self._drawn = 0
        self._last = ""
        enc = (getattr(out, "encoding", "") or "").lower()
        self.full, self.empty = ("█", "░") if "utf" in enc else ("#", "-")
        if "utf" not in enc:
            self.HELP = self.HELP.replace("·", "-")
        self.out.write("\x1b[?25l")

    def event(self, index: int) -> None:
        e = self.v.p.events[index]
        if e.kind == Kind.SAY and index >= self.v.p.first:
            self.v.line = e.text

    def note(self, text: str) -> None:
        self._flush([text])

    def update(self) -> None:
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        index, _ = self.v.f.where()
        when, frac = self.v.times()
        bar_w = max(10, min(40, width - len(when) - 16))
        filled = int(round(frac * bar_w))
        state = self.v.state()
        said = textwrap.wrap(f"\"{self.v.line}\"", width - 2, max_lines=3, placeholder=" ...\"") if self.v.line else [""]
        lines = [
            f"{self.v.title} · {self.v.pattern_label(index)}",
            *[f"  {ln}" for ln in said],
            f"  {when}  {self.full * filled}{self.empty * (bar_w - filled)}  {int(frac * 100):3d}%"
            + (f"  {state}" if state else ""),
        ]
        if self.keys:
            lines.append(f"  {self.HELP}")
        lines = [ln[:width] for ln in lines]
        text = "\n".join(lines)
        if text != self._last:
            self._last = text
            self._redraw(lines)

    def _redraw(self, lines: list[str]) -> None:
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        self.out.write(up + "".join(f"\x1b[2K{ln}\n" for ln in lines) + "\x1b[J")
        self.out.flush()
        self._drawn = len(lines)

    def _flush(self, extra: list[str]) -> None:
        # a message goes above the status lines, which are then drawn again below it
        up = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        self.out.write(up + "".join(f"{ln}\n" for ln in extra))
        self._drawn = 0
        self._last = ""
        self.update()

    def close(self) -> None:
        self.update()
        self.out.write("\x1b[?25h")
        self.out.flush()


class LineDisplay:
    """Plain timestamped lines (cron, a pipe): one per spoken line and pattern."""

    def __init__(self, view: View, out: TextIO):
        self.v = view
        self.out = out
        self._block: Block | None = None

    def _say(self, text: str) -> None:
        when, _ = self.v.times()
        self.out.write(f"{time.strftime('%H:%M:%S')}  {when}  {text}\n")
        self.out.flush()

    def event(self, index: int) -> None:
        p = self.v.p
        e = p.events[index]
        b = p.block_at(index)
        if b is not None and b is not self._block:
            self._say(f"[{self.v.pattern_label(index)}]")
        self._block = b
        if e.kind == Kind.PAUSE and index < p.first:
            self._say("(quiet until the session starts)")
        if e.kind == Kind.SAY:
            if index >= p.first:
                self.v.line = e.text
            self._say(f"\"{e.text}\"")

    def note(self, text: str) -> None:
        self._say(text)

    def update(self) -> None:
        pass

    def close(self) -> None:
        pass

