"""`validate`: every problem in script files, including those only planning finds (SPEC §2)."""
from __future__ import annotations

import os
from typing import Iterable

from sisessions.errors import Problem, ScriptError
from sisessions.plan.timeline import PlanOptions, estimate_speech_seconds, expand
from sisessions.script.library import Library
from sisessions.script.load import (
    load_pattern,
    load_program,
    load_session,
    session_for_pattern,
)
from sisessions.script.model import Pattern, Pause, Repeat, Say, Session

RELEASE_RATIO = 1.25  # SPEC §2.2: a release lasts at least this many times the tighten before it


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


def rhythm_warnings(p: Pattern, wpm: int = PlanOptions.wpm) -> list[Problem]:
    """Where the pattern as written releases faster than the rhythm asks (SPEC §2.2): in each list
    of steps (a repetition is the body of a repeat), a release (its say and pause steps, speech
    estimated at `wpm`) shorter than RELEASE_RATIO times the tighten since the last release."""
    found: list[Problem] = []

    def walk(steps) -> None:
        tighten, release, at = 0.0, 0.0, None

        def close() -> None:
            nonlocal tighten, release, at
            if at is not None and tighten > 0 and release < RELEASE_RATIO * tighten - 1e-9:
                found.append(at.problem(
                    f"warning: this release lasts about {release:.1f} s (speech included), less than "
                    f"{RELEASE_RATIO:g} times the {tighten:.1f} s of tightening before it; let go "
                    f"more slowly than you tighten (a longer pause here)"))
            if at is not None:
                tighten, release, at = 0.0, 0.0, None

        for st in steps:
            if isinstance(st, Repeat):
                close()
                walk(st.steps)
                continue
            phase = getattr(st, "phase", None)
            seconds = (estimate_speech_seconds(st.text, wpm) if isinstance(st, Say)
                       else st.seconds if isinstance(st, Pause) else 0.0)
            if phase == "release":
                at = at or st.loc
                release += seconds
                continue
            close()
            if phase == "tighten":
                tighten += seconds
        close()

    walk(p.steps)
    return found


def validate(library: Library, paths: Iterable[str] = (),
             warnings: list[Problem] | None = None) -> tuple[int, list[Problem]]:
    """Check files or library folders (default: every library). Returns (files, problems);
    what breaks only the rhythm (rhythm_warnings) is appended to `warnings` when given."""
    files = library.files(paths)
    problems: list[Problem] = []
    for f, kind in files:
        if kind == "patterns":
            p = load_pattern(f, problems)
            if p is not None:
                _check_length(session_for_pattern(p), OnePattern(p), problems, lenient=True)
                if warnings is not None:
                    warnings.extend(rhythm_warnings(p))
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
