"""`today`: the programme's next session, from the days of practice in the practice log."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sisessions.errors import UsageError
from sisessions.practice import log, settings
from sisessions.script.library import Library
from sisessions.script.load import load_program
from sisessions.script.model import Program

NAME = "today"  # the SESSION name that means "the programme's next session"


@dataclass(frozen=True)
class Today:
    """Where the person stands in the programme, and so which session is today's."""

    program: Program
    session: str
    stage: int | None  # index into program.stages; None once every stage is done
    day: int  # today's day number in the stage (1-based); days after the last stage otherwise
    done: tuple[int, ...]  # days completed in each stage
    last: date | None  # the last practice day that counted
    practised_today: bool

    def why(self) -> str:
        p = self.program
        name = f"'{p.title}'"
        n = len(p.stages)
        if self.stage is not None:
            st = p.stages[self.stage]
            where = f"stage {self.stage + 1} of {n} ({st.session}), day {self.day} of {st.days}"
            if self.last is None:
                text = f"no session of the programme completed yet, so the programme {name} starts at {where}"
            elif self.stage > 0 and self.done[self.stage] == 0:
                prev = p.stages[self.stage - 1]
                text = (f"the programme {name} is at {where}: stage {self.stage} ({prev.session}) "
                        f"was done on {prev.days} days, the last on {self.last.isoformat()}")
            else:
                text = (f"the programme {name} is at {where}: {self.done[self.stage]} "
                        f"day{'s' if self.done[self.stage] != 1 else ''} of {st.session} done, "
                        f"the last on {self.last.isoformat()}")
        else:
            after = (f"after them the programme says {p.then}" if p.then
                     else "with nothing after them, the last stage goes on")
            text = f"all {n} stages of {name} are done (the last on {self.last.isoformat()}); {after}"
        if self.practised_today:
            text += "; you already practised today, so this is the next one"
        return text[:1].upper() + text[1:] + "."


def walk(program: Program, records: list[log.Record], on: date) -> Today:
    """Walk the practice days in order through the stages.

    A day counts for a stage when a session of that stage was completed on it (several
    plays on one day are one day). Sessions of other stages do not move the programme, so
    a day of something else, or a gap of a week, leaves the person where they were.
    """
    days: dict[date, set[str]] = {}
    for r in records:
        if isinstance(r, log.Play) and r.completed and r.day <= on:
            days.setdefault(r.day, set()).add(r.session)
    stages, after_all = program.stages, program.then or program.stages[-1].session
    done = [0] * len(stages)
    i, after, last = 0, 0, None
    for d in sorted(days):
        if i < len(stages) and stages[i].session in days[d]:
            done[i] += 1
            last = d
            if done[i] >= stages[i].days:
                i += 1
        elif i >= len(stages) and after_all in days[d]:
            after += 1
            last = d
    practised = last == on  # a session of the programme done today (not just any session)
    if i < len(stages):
        return Today(program, stages[i].session, i, done[i] + 1, tuple(done), last, practised)
    return Today(program, after_all, None, after + 1, tuple(done), last, practised)


def program(library: Library) -> Program:
    """The programme `today` follows: the one chosen with `today --program`, else the only one."""
    chosen = settings.load().get("program")
    if isinstance(chosen, str) and chosen in library.programs:
        return _load(library, chosen)
    ids = list(library.programs)
    if not ids:
        raise UsageError("there is no programme in the libraries, so there is no 'today'; "
                         "name a session instead (`sisessions list` shows them)")
    if len(ids) > 1:
        raise UsageError(f"there are several programmes ({', '.join(ids)}); choose one with "
                         f"`sisessions today --program {ids[0]}`")
    return _load(library, ids[0])


def choose(library: Library, pid: str) -> Program:
    """Remember `pid` as the programme that `today` follows."""
    if pid not in library.programs:
        raise UsageError(f"unknown programme '{pid}'; there are: {', '.join(library.programs) or 'none'}")
    prog = _load(library, pid)
    settings.save_value("program", pid)
    return prog


def _load(library: Library, pid: str) -> Program:
    return load_program(library.programs[pid], library=library)


def today(library: Library, on: date | None = None) -> tuple[Today, list[str]]:
    records, warnings = log.read()
    return walk(program(library), records, on or date.today()), warnings


def resolve_name(library: Library) -> str:
    """The session id that SESSION `today` stands for (a session or pattern of yours named
    `today` keeps its name: a user's file always wins over a built-in meaning)."""
    if NAME in library.sessions or NAME in library.patterns:
        return NAME
    return today(library)[0].session


def reachable(library: Library) -> list[str]:
    """Every session `today` can still lead to from here, for making them ready ahead."""
    t, _ = today(library)
    p = t.program
    rest = [s.session for s in p.stages[t.stage:]] if t.stage is not None else []
    rest.append(p.then or p.stages[-1].session)
    return list(dict.fromkeys(rest))
