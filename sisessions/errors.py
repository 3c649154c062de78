"""The errors the core raises; the CLI turns each into one line and an exit code (SPEC §5)."""
from __future__ import annotations


class SisessionsError(Exception):
    """A failure the user should read as one sentence. exit_code follows SPEC §5."""

    exit_code = 1


class UsageError(SisessionsError):
    """The user's input is wrong: an unknown session, a bad option value, a missing side."""

    exit_code = 2


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
