"""The library's catalogue: every session and pattern with its title, stage, planned length and
whether it needs a side, made once for `list` and the companion's `/api/sessions`."""
from __future__ import annotations

from dataclasses import dataclass

from sisessions.errors import SisessionsError
from sisessions.plan.timeline import PlanOptions, estimated
from sisessions.script.library import Library
from sisessions.script.load import session_for_pattern


@dataclass(frozen=True)
class Entry:
    kind: str                          # "session" or "pattern"
    id: str
    title: str | None = None           # None: the file does not load (`validate` says why)
    stage: str = ""                    # a pattern's stage: unlock, reshape or reinforce
    seconds: float | None = None       # the planned length, speech guessed from word counts; None: it does not plan
    sided: bool = False                # it needs a working side
    patterns: tuple[tuple[str, str], ...] = ()  # (id, title) of the patterns it plays, in order

    @property
    def ok(self) -> bool:
        return self.title is not None and self.seconds is not None


def catalogue(library: Library, side: str | None = None) -> list[Entry]:
    """Sessions, then patterns, each sorted by id. Lengths are planned on `side` (the saved
    side; the left when none is saved: both sides take as long)."""
    opts = PlanOptions(side=side or "left")
    out = []
    for kind, ids in (("session", library.sessions), ("pattern", library.patterns)):
        for i in sorted(ids):
            out.append(_entry(library, kind, i, opts))
    return out


def _entry(library: Library, kind: str, i: str, opts: PlanOptions) -> Entry:
    try:
        if kind == "session":
            session, stage = library.session(i), ""
        else:
            p = library.pattern(i)
            session, stage = session_for_pattern(p), p.stage or ""
    except SisessionsError:
        return Entry(kind, i)
    try:
        tl = estimated(session, library, opts)
    except SisessionsError:
        return Entry(kind, i, session.title, stage)
    patterns = tuple((p, tl.titles.get(p, p)) for p in dict.fromkeys(c.pattern for c in tl.cues if c.pattern))
    return Entry(kind, i, session.title, stage, tl.seconds, any(c.side for c in tl.cues), patterns)
