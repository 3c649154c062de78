"""The terminal's keys, one input of the controller: single presses in cbreak mode, mapped to
the controller's commands (SPEC §6) or, while a question stands, to its answers (SPEC §8)."""
from __future__ import annotations

import os
import select
import time
from typing import TextIO

from sisessions.play.controls import Command, Controller

KEYS: dict[str, Command] = {
    " ": Command.TOGGLE,
    "n": Command.NEXT,
    "b": Command.BACK,
    "r": Command.REPEAT,
    "q": Command.STOP,
}
# while a question stands its keys come first ("r" is then "right", not "repeat")
ANSWERS: dict[str, dict[str, str]] = {
    "side": {"l": "left", "r": "right", "s": "same"},
    "pain": {**{str(d): str(d) for d in range(10)}, "t": "10"},
}


def handle(ch: str, controller: Controller) -> None:
    """One key, as SPEC §6 and §8 map it."""
    ch = ch.lower()
    question = controller.question
    if question is not None and ch in ANSWERS.get(question, {}):
        controller.answer(question, ANSWERS[question][ch])
        return
    command = KEYS.get(ch)
    if command is not None:
        controller.do(command)


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
