"""The script model: immutable patterns, sessions and programmes, with the file and line of every node."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from sisessions.errors import Problem

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
STAGES = ("unlock", "reshape", "reinforce")
ITEM_SIDES = ("working", "other", "both", "left", "right")
SIDES = ("left", "right")
PHASES = ("tighten", "release", "rest", "move")  # SPEC §2.2: the part of a movement a step belongs to
DEFAULT_REST = 10.0
DEFAULT_BREATH_IN = 4.0
DEFAULT_BREATH_OUT = 6.0
DEFAULT_PRIORITY = 5
PRIORITY_RANGE = (1, 9)
BUILTIN_BEDS = ("brown", "drone")  # made by sources/bed.py; any other `bed:` is an audio file
NO_BED = "off"                     # `--bed off`: none, even when the session names one
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Loc:
    path: str
    line: int

    def problem(self, message: str) -> Problem:
        return Problem(self.path, self.line, message)


@dataclass(frozen=True)
class Say:
    text: str
    loc: Loc
    phase: str | None = None


@dataclass(frozen=True)
class Pause:
    seconds: float
    loc: Loc
    phase: str | None = None


@dataclass(frozen=True)
class Breathe:
    count: int
    cue: bool
    loc: Loc


@dataclass(frozen=True)
class Repeat:
    times: int | None
    count: bool
    steps: tuple["Step", ...]
    loc: Loc


@dataclass(frozen=True)
class Chime:
    loc: Loc


Step = Union[Say, Pause, Breathe, Repeat, Chime]


@dataclass(frozen=True)
class Pattern:
    id: str
    path: str
    title: str
    steps: tuple[Step, ...]
    stage: str | None = None
    about: str | None = None
    sided: bool = False
    repetitions: int | None = None
    loc: Loc = field(default=Loc("", 1), compare=False)


@dataclass(frozen=True)
class Item:
    pattern: str
    loc: Loc
    repetitions: int | None = None
    side: str = "working"
    optional: bool = False           # --minutes below scaling: left out before unmarked items
    priority: int = DEFAULT_PRIORITY  # --minutes below scaling: lower priorities go first
    keep: bool = False               # --minutes never leaves it out (a step the rest needs)


@dataclass(frozen=True)
class Session:
    id: str
    path: str
    title: str
    items: tuple[Item, ...]
    about: str | None = None
    intro: str | None = None
    outro: str | None = None
    rest_between: float = DEFAULT_REST
    chime: bool = True
    breath_in: float = DEFAULT_BREATH_IN
    breath_out: float = DEFAULT_BREATH_OUT
    loc: Loc = field(default=Loc("", 1), compare=False)
    items_loc: Loc | None = field(default=None, compare=False)
    bed: str | None = None           # a built-in bed's name or an absolute audio file path




# ---------------------------------------------------------------- programmes


@dataclass(frozen=True)
class Stage:
    session: str
    days: int
    loc: Loc


@dataclass(frozen=True)
class PainRules:
    """A programme's pain-monitoring thresholds (0-10 scale; `today`'s light)."""

    green: int = 3          # pain after a session at most this: go on
    amber: int = 5          # at most this (and settled by the next morning): same session again
    rise: int = 2           # morning pain this much above its median: red
    baseline_days: int = 7  # the days the morning median is taken over
    refer_after: int = 3    # red days in a row before `today` says to see a professional


PAIN_LIMITS = {"green": (0, 10), "amber": (0, 10), "rise": (1, 10), "baseline_days": (1, 90),
               "refer_after": (1, 30)}


@dataclass(frozen=True)
class Program:
    id: str
    path: str
    title: str
    stages: tuple[Stage, ...]
    about: str | None = None
    then: str | None = None  # the session for every day after the last stage
    gentle: str | None = None  # the session for a red day; None: the stage's session, shorter
    pain: PainRules = PainRules()
