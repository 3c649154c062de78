"""The errors the core raises; the CLI turns each into one line and an exit code (SPEC §5)."""
from __future__ import annotations


class SisessionsError(Exception):
    """A failure the user should read as one sentence. exit_code follows SPEC §5."""

    exit_code = 1


class UsageError(SisessionsError):
    """The user's input is wrong: an unknown session, a bad option value, a missing side."""

    exit_code = 2


class OptionError(UsageError):
    """A bad value of one of the person's choices (minutes, skip, bed...). On the command line
    it names the option (`--minutes 180: ...`); the companion names the field instead, since
    the phone has no command-line options (`for_field`)."""

    def __init__(self, option: str, message: str):
        if not message.startswith(f"--{option}"):
            raise ValueError(f"an OptionError's message starts with --{option}")
        self.option = option
        super().__init__(message)

    def for_field(self) -> str:
        return self.option + str(self)[len(self.option) + 2:]


def sentence(msg: str) -> str:
    """A message as one sentence: a capital first letter (unless it starts with what the
    person typed: a file name, a path, an option, or any `NAME:`, which keep their own
    spelling) and a full stop."""
    msg = msg.strip()
    first = msg.split(None, 1)[0].rstrip(",;") if msg else ""
    if first.isalpha():
        msg = msg[:1].upper() + msg[1:]
    return msg if msg.endswith((".", "!", "?")) else msg + "."


class ScriptError(UsageError):
    """One or more problems in script files, each as FILE:LINE: message."""

    def __init__(self, problems: list["Problem"]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Problem:
    """A problem at a place in a file; str() gives FILE:LINE: message."""

    __slots__ = ("path", "line", "message")

    def __init__(self, path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"Problem({str(self)!r})"


class EngineError(SisessionsError):
    """A voice engine is missing, failed, crashed or hung."""


class AudioError(SisessionsError):
    """ffmpeg, the output file or the audio device failed."""
