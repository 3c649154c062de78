"""What is shown while playing: a view of the program and the feeder, drawn either as a few
lines redrawn in place (a terminal) or as plain timestamped lines (cron, a pipe)."""
from __future__ import annotations

import shutil
import textwrap
import time
from collections.abc import Callable
from typing import TextIO

from sisessions.audio import RATE
from sisessions.plan.timeline import duration_text
from sisessions.play.controls import Change, Changed, Controller, Item, Now, Phase

LISTENING = "listening"


def clock(frames: int) -> str:
    """H:MM:SS or M:SS, as every length is written to the person."""
    return duration_text(frames / RATE)


class View:
    """What the display shows, read from the controller (never from the feeder)."""

    def __init__(self, controller: Controller, title: str):
        self.c = controller
        self.title = title
        self.listening: Callable[[], bool] = lambda: False   # set by the session with --listen

    @staticmethod
    def label(now: Now, item: Item | None = None) -> str:
        item = item or now.item
        if now.question is not None and item is now.item:
            return "the check: your answer" if now.question == "side" else "check-in: your answer"
        if item is None:
            return "Done"
        if item.block is None:
            return item.title
        return f"{item.title} · {item.block.number} of {now.items}"

    @staticmethod
    def times(now: Now) -> tuple[str, float]:
        if now.phase is Phase.PREROLL:
            return f"starting in {clock(now.preroll_left)}", 0.0
        approx = "" if now.exact else "~"
        return f"{clock(now.position)} / {approx}{clock(now.total)}", now.position / now.total if now.total else 1.0

    def state(self, now: Now) -> str:
        s = ""
        if now.question == "side":
            s = "l left, r right, s same"
        elif now.question == "pain":
            s = "pain now: 0-9, t for 10"
        elif now.paused:
            s = "paused"
        elif now.waiting:
            s = "waiting for the voice"
        if self.listening():
            return f"{s} · {LISTENING}" if s else LISTENING
        return s


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

    def changed(self, event: Changed) -> None:
        pass  # redrawn from now() at each tick of the session loop

    def note(self, text: str) -> None:
        self._flush([text])

    def update(self) -> None:
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        now = self.v.c.now()
        when, frac = self.v.times(now)
        state = self.v.state(now)
        bar_w = max(10, min(40, width - len(when) - 16 - len(state)))
        filled = int(round(frac * bar_w))
        said = textwrap.wrap(f"\"{now.line}\"", width - 2, max_lines=3, placeholder=" ...\"") if now.line else [""]
        lines = [
            f"{self.v.title} · {self.v.label(now)}",
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

    def _say(self, text: str, now: Now | None = None) -> None:
        when, _ = self.v.times(now or self.v.c.now())
        self.out.write(f"{time.strftime('%H:%M:%S')}  {when}  {text}\n")
        self.out.flush()

    def changed(self, event: Changed) -> None:
        now, item = event.now, event.item
        if event.change is Change.ITEM and item is not None:
            if item.block is not None:
                self._say(f"[{self.v.label(now, item)}]", now)
            elif item.key == "preroll":
                self._say(f"[{item.title}: quiet until the session starts]", now)
        elif event.change is Change.LINE:
            self._say(f"\"{event.text}\"", now)

    def note(self, text: str) -> None:
        self._say(text)

    def update(self) -> None:
        pass

    def close(self) -> None:
        pass
