"""The one controller every input calls while playing (keys, MPRIS, later spoken commands),
and the terminal's keys as one such input."""
from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TextIO

from sisessions.audio import RATE
from sisessions.plan.timeline import Kind
from sisessions.play.feeder import Feeder
from sisessions.play.program import Program

class Change(StrEnum):
    """What a controller action did, as told to its listeners (MPRIS turns a jump into Seeked)."""

    PAUSE = "pause"
    RESUME = "resume"
    JUMP = "jump"
    STOP = "stop"


PAUSE, RESUME, JUMP, STOP = Change.PAUSE, Change.RESUME, Change.JUMP, Change.STOP


class Controller:
    """The few actions of SPEC §6, the same for every input.

    Every public method is thread-safe: all of them run under one lock, so a key, an MPRIS call
    and a spoken command can never interleave (the feeder's own lock keeps each step atomic
    against the audio thread). None of them blocks for longer than a feeder step, so they may be
    called from an event loop. Listeners added with `subscribe` are called after each action,
    outside the lock, with one of PAUSE, RESUME, JUMP, STOP; they must return at once.
    """

    def __init__(self, program: Program, feeder: Feeder, latency: float = 0.0):
        self.p = program
        self.f = feeder
        self.latency_frames = int(latency * RATE)  # audio still queued in the output
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._listeners: list[Callable[[str], None]] = []

    # -- the actions
    def toggle(self) -> bool:
        """Pause or resume (space, MPRIS PlayPause); True when now paused."""
        with self._lock:
            paused = self.f.toggle_pause()
        self._tell(PAUSE if paused else RESUME)
        return paused

    def pause(self) -> None:
        """Silence within a few ms; the line being spoken is said again whole on resume."""
        with self._lock:
            if self.f.paused or self.stopped:
                return
            self.f.toggle_pause()
        self._tell(PAUSE)

    def resume(self) -> None:
        with self._lock:
            if not self.f.paused or self.stopped:
                return
            self.f.toggle_pause()
        self._tell(RESUME)

    def next(self) -> bool:
        """To the start of the next pattern (after the last one, the closing part); from the
        pre-roll, to where the session starts. False when there is nowhere to go."""
        with self._lock:
            if self.stopped:
                return False
            index, _ = self.f.where()
            target = self.p.next_target(index)
            if index < self.p.first and self.f.after_preroll is not None:
                target = self.f.after_preroll
            if target is None:
                return False
            self.f.seek(target)
        self._tell(JUMP)
        return True

    def back(self) -> None:
        """To the start of this pattern (or of the one just done, in a rest)."""
        with self._lock:
            if self.stopped:
                return
            index, _ = self.f.where()
            self.f.seek(self.p.back_target(index) if index >= self.p.first else self.p.first)
        self._tell(JUMP)

    def repeat(self) -> bool:
        """Say the last line again; False when no line was said yet."""
        with self._lock:
            if self.stopped or self.f.last_say is None:
                return False
            self.f.seek(self.f.last_say)
        self._tell(JUMP)
        return True

    def stop(self) -> None:
        """End the session (logged as stopped): silent at once; the session loop then ends."""
        with self._lock:
            if self.stopped:
                return
            self.f.stop()
            self._stop.set()
        self._tell(STOP)

    # -- the state, for inputs and displays
    @property
    def stopped(self) -> bool:
        """True once stop() was called."""
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return self.f.paused

    def can_next(self) -> bool:
        with self._lock:
            index, _ = self.f.where()
            return not self.stopped and not self.f.finished and (
                self.p.next_target(index) is not None
                or (index < self.p.first and self.f.after_preroll is not None))

    def quiet(self) -> bool:
        """True when nothing is being heard: paused, stopped, finished, waiting for the voice, or
        in a silence whose start has left the output (a spoken-command listener listens only
        then, so it never hears the session's own voice)."""
        f = self.f
        with self._lock:
            if f.paused or f.stopped or f.finished or f.waiting:
                return True
            index, offset = f.where()
            if index >= len(self.p.events):
                return True
            return self.p.events[index].kind == Kind.PAUSE and offset >= self.latency_frames

    def subscribe(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def _tell(self, what: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(what)
            except Exception:  # pragma: no cover - a listener's bug never stops an action
                pass


# ---------------------------------------------------------------- keys


class Keys:
    """Single key presses from a terminal (cbreak: no Enter needed; Ctrl-C still interrupts)."""

    def __init__(self, stream: TextIO):
        import termios
        import tty

        self.fd = stream.fileno()
        self._termios = termios
        self._old = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)

    @staticmethod
    def usable(stream: TextIO) -> bool:
        try:
            if not stream.isatty():
                return False
            import termios  # noqa: F401  (POSIX only)
        except (ImportError, AttributeError, ValueError, OSError):
            return False
        try:  # in the background of a shell, changing the terminal would stop us (SIGTTOU)
            return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except OSError:  # not our controlling terminal: no job control to fear
            return True

    def read(self, timeout: float) -> str:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return ""
        try:
            data = os.read(self.fd, 64)
        except OSError:
            return ""
        if not data:  # the terminal closed: no more keys, keep playing
            time.sleep(timeout)
        return data.decode(errors="ignore")

    def close(self) -> None:
        try:
            self._termios.tcsetattr(self.fd, self._termios.TCSADRAIN, self._old)
        except Exception:  # pragma: no cover - the terminal is gone
            pass


    def handle(self, ch: str, controller: Controller) -> None:
        """One key, as SPEC §6 maps it."""
        if ch in "qQ":
            controller.stop()
        elif ch == " ":
            controller.toggle()
        elif ch in "nN":
            controller.next()
        elif ch in "bB":
            controller.back()
        elif ch in "rR":
            controller.repeat()
