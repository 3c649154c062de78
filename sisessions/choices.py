"""The session choices (SPEC §3), each defined once: its name, kind, range, default and help.

The command line's options (cli/base.session_options), the command line a schedule runs
(`Choices.args`) and the companion's JSON (`Choices.from_json`) are all made from the fields of
`Choices`, so a new choice cannot reach one path and miss another (commit 369ae64 mended one
that did: `--bed` never reached the scheduled entry).
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sisessions.errors import UsageError
from sisessions.script.model import BUILTIN_BEDS, NO_BED, SIDES

DEFAULT_RATE = 110  # words per minute, measured on the audio (SPEC: slow, 120 or less)
RATE_RANGE = (60, 200)
ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")  # a session or pattern id, as the page sends it
MAX_IDS = 50


class Kind(StrEnum):
    SIDE = "side"        # left or right
    NUMBER = "number"    # a finite number from low to high
    WHOLE = "whole"      # a whole number from low to high
    NAME = "name"        # a word: a name (on the command line also a file)
    IDS = "ids"          # pattern ids, the option repeated


@dataclass(frozen=True)
class Option:
    """How one field of Choices is given, checked and written back."""

    kind: Kind
    help: str
    low: float | None = None
    high: float | None = None
    metavar: str | None = None
    api: bool = False            # the companion's page may send it
    what: str | None = None      # what a bad value must be, for its error; None: said by the kind
    names: tuple[str, ...] = ()  # a NAME: the only values the page may send (else any name)
    file: bool = False           # a NAME that may be a file on the command line

    def must_be(self) -> str:
        if self.what:
            return self.what
        if self.kind in (Kind.NUMBER, Kind.WHOLE):
            number = "a number" if self.kind == Kind.NUMBER else "a whole number"
            return f"{number} from {self.low:g} to {self.high:g}"
        return {Kind.SIDE: "left or right", Kind.NAME: "a name", Kind.IDS: "a list of pattern ids"}[self.kind]

    def ok(self, value: Any) -> bool:
        """Whether `value` (not None) is one this choice takes, wherever it came from."""
        if self.kind == Kind.SIDE:
            return value in SIDES
        if self.kind in (Kind.NUMBER, Kind.WHOLE):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return False
            if self.kind == Kind.WHOLE and value != int(value):
                return False
            return self.low <= value <= self.high
        if self.kind == Kind.NAME:
            return isinstance(value, str)
        return isinstance(value, (list, tuple)) and all(isinstance(s, str) for s in value)

    def ok_from_the_page(self, value: Any) -> bool:
        """Stricter for what the page sends: names and ids only, never a path on this computer."""
        if not self.ok(value):
            return False
        if self.kind == Kind.NAME:
            if self.names:  # a name, never a file of this computer (its working folder included)
                return value in self.names
            return "/" not in value and "\\" not in value and not value.startswith(".")
        if self.kind == Kind.IDS:
            return len(value) <= MAX_IDS and all(ID.match(s) for s in value)
        return True

    def arg(self, value: Any) -> list[str]:
        if self.kind == Kind.NUMBER:
            return [f"{value:g}"]
        if self.file and value not in self.names and (os.sep in value or Path(value).expanduser().exists()):
            return [str(Path(value).expanduser().resolve())]  # cron starts in $HOME, not here
        return [str(value)]


def choice(kind: Kind, default: Any, help: str, **how) -> Any:
    """A field of Choices (or of a class that extends it) with its Option."""
    return field(default=default, metadata={"option": Option(kind, help, **how)})


@dataclass(frozen=True)
class Choices:
    """The options of show, synth, play, export and schedule add, and of the page's renders."""

    side: str | None = choice(Kind.SIDE, None, "Your working side (else today's check, else the saved one).", api=True)
    pace: float = choice(Kind.NUMBER, 1.0, "Multiply pauses, breaths and rests.", low=0.5, high=3.0, api=True)
    rate: int = choice(Kind.WHOLE, DEFAULT_RATE, "Speech rate in words per minute.",
                       low=RATE_RANGE[0], high=RATE_RANGE[1])
    engine: str | None = choice(Kind.NAME, None, "Voice engine (`sisessions engines` lists them).", metavar="NAME")
    voice: str | None = choice(Kind.NAME, None, "A voice of the engine.", metavar="NAME", file=True)
    skip: tuple[str, ...] = choice(Kind.IDS, (), "Leave a pattern out today; repeatable.", metavar="PATTERN",
                                   api=True)
    minutes: float | None = choice(
        Kind.NUMBER, None, "Fit the session to about N minutes (below its range, items are left out and named).",
        low=1, high=180, api=True)
    # a built-in bed, an audio file or "off"; None: the session's own
    bed: str | None = choice(Kind.NAME, None, "A quiet sound under the session: brown, drone, an audio file, or off.",
                             metavar="NAME|FILE", api=True, what="the name of a built-in bed",
                             names=(*BUILTIN_BEDS, NO_BED), file=True)
    # dBFS RMS in the silences; None: sources/bed.LEVEL (not imported here: it brings numpy)
    bed_level: float | None = choice(Kind.NUMBER, None,
                                     "The bed's level in the silences, in dBFS RMS (default -45).",
                                     low=-70, high=-25, metavar="DBFS")

    @classmethod
    def options(cls) -> list[tuple[dataclasses.Field, Option]]:
        return [(f, f.metadata["option"]) for f in dataclasses.fields(cls) if "option" in f.metadata]

    def check(self) -> None:
        """UsageError naming the first value out of its range (the CLI and the page check
        before this; it guards every other caller)."""
        for f, opt in self.options():
            value = getattr(self, f.name)
            if value is not None and not opt.ok(value):
                raise UsageError(f"{flag(f)} must be {opt.must_be()}; got {value}")

    def args(self) -> list[str]:
        """The choices as command-line arguments, only those that differ from the defaults:
        what a schedule's entry runs."""
        out: list[str] = []
        for f, opt in self.options():
            value = getattr(self, f.name)
            if value in (None, "", ()) or value == f.default:
                continue
            for v in value if opt.kind == Kind.IDS else (value,):
                out += [flag(f), *opt.arg(v)]
        return out

    @classmethod
    def api_names(cls) -> set[str]:
        return {f.name for f, opt in cls.options() if opt.api}

    @classmethod
    def from_json(cls, data: dict, **others) -> Choices:
        """The choices the page sent (the keys of api_names; null or absent: the default), and
        `others` set by the server; UsageError with one sentence naming the first bad field."""
        given = {}
        for f, opt in cls.options():
            value = data.get(f.name) if opt.api else None
            if value is None:
                continue
            if not opt.ok_from_the_page(value):
                raise UsageError(f"'{f.name}' must be {opt.must_be()}")
            given[f.name] = (tuple(value) if opt.kind == Kind.IDS
                             else float(value) if opt.kind == Kind.NUMBER else value)
        return cls(**given, **others)


def flag(f: dataclasses.Field) -> str:
    return "--" + f.name.replace("_", "-")
