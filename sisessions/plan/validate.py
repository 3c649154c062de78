"""`validate`: every problem in script files, including those only planning finds (SPEC §2)."""
from __future__ import annotations

import os
from typing import Iterable

from sisessions.errors import Problem, ScriptError
from sisessions.plan.timeline import PlanOptions, expand
from sisessions.script.library import Library
from sisessions.script.load import (
    load_pattern,
    load_program,
    load_session,
    session_for_pattern,
)
from sisessions.script.model import Pattern, Session


class OnePattern:
    """A library of one pattern: a lone file is checked on its own, whatever shares its id."""

    def __init__(self, p: Pattern):
        self.p = p

    def pattern(self, pid: str, problems=None) -> Pattern:
        return self.p


def _check_length(s: Session, library, problems: list[Problem], lenient: bool = False) -> None:
    """The 3-hour limit and repeat counts (SPEC §2), planned with estimated speech: no audio."""
    try:
        expand(s, library, PlanOptions(side="left"), lenient=lenient)
    except ScriptError as e:
        problems.extend(e.problems)


def validate(library: Library, paths: Iterable[str] = ()) -> tuple[int, list[Problem]]:
    """Check files or library folders (default: every library). Returns (files, problems)."""
    files = library.files(paths)
    problems: list[Problem] = []
    for f, kind in files:
        if kind == "patterns":
            p = load_pattern(f, problems)
            if p is not None:
                _check_length(session_for_pattern(p), OnePattern(p), problems, lenient=True)
        elif kind == "sessions":
            library.adopt(f)
            before = len(problems)
            s = load_session(f, problems, partial=True)
            if s is not None:
                library.check_session(s, problems)
                if len(problems) == before:
                    _check_length(s, library, problems)
        else:
            load_program(f, problems, library)
    # one problem reported once, even when a pattern was reached through several sessions
    seen, unique = set(), []
    for p in problems:
        key = (os.path.realpath(p.path), p.line, p.message)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return len(files), unique
