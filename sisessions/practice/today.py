"""`today` (SPEC §8): the programme's next session, guided by the practice log: the days
practised, the pain entries (the light, practice/light.py) and today's check (the side)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sisessions.errors import UsageError
from sisessions.practice import log, settings
from sisessions.practice.light import GREEN, RED, Pains
from sisessions.script.library import Library
from sisessions.script.load import load_program
from sisessions.script.model import Program, Session

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
    held: str | None = None  # why a stage whose days are done does not move on yet

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
        if self.held:
            text += f"; its days are done, but {self.held}"
        elif self.practised_today:
            text += "; you already practised today, so this is the next one"
        return text[:1].upper() + text[1:] + "."


def _hold(light: str, check: log.Check | None) -> str | None:
    """Why a stage whose days are done does not move on yet; None when it may."""
    if check is not None and check.result == "same":
        return (f"the latest check, on {check.day.isoformat()}, could not tell the sides apart, and a stage "
                f"moves on after a check that finds a clear side")
    if light != GREEN:
        return "a stage moves on after a green day"
    return None


def walk(program: Program, records: list[log.Record], on: date, pains: Pains | None = None) -> Today:
    """Walk the days in order through the stages.

    A day counts for a stage when a session of that stage was completed on it (several plays
    on one day are one day) and the light that day (from the pain entries before the session)
    was green. Sessions of other stages do not move the programme, so a day of something else,
    or a gap of a week, leaves the person where they were. A stage whose days are counted moves
    on, on a green day, unless the latest check could not tell the sides apart ("same").
    """
    pains = pains or Pains(records, program.pain)
    days: dict[date, set[str]] = {}
    checks: list[log.Check] = []
    for r in sorted(records, key=lambda r: datetime.fromisoformat(r.time).timestamp()):
        if isinstance(r, log.Play) and r.completed and r.day <= on:
            days.setdefault(r.day, set()).add(r.session)
        elif isinstance(r, log.Check) and r.day <= on:
            checks.append(r)

    def check_by(d: date) -> log.Check | None:
        found = [c for c in checks if c.day <= d]
        return found[-1] if found else None

    stages, after_all = program.stages, program.then or program.stages[-1].session
    done = [0] * len(stages)
    i, after, last = 0, 0, None
    for d in sorted(set(days) | {c.day for c in checks} | {on}):
        light = pains.light(d, own=False).colour
        if i < len(stages) and done[i] >= stages[i].days and _hold(light, check_by(d)) is None:
            i += 1
        if light != GREEN or d not in days:
            continue
        if i < len(stages) and stages[i].session in days[d]:
            done[i] += 1
            last = d
        elif i >= len(stages) and after_all in days[d]:
            after += 1
            last = d
    practised = last == on  # a session of the programme done today (not just any session)
    held = None
    if i < len(stages) and done[i] >= stages[i].days:
        # today's practice finished the stage: the next one is tomorrow's, if nothing holds it
        held = _hold(pains.light(on).colour, check_by(on))
        if held is None and practised:
            i += 1
    if i < len(stages):
        if done[i] < stages[i].days:
            held = None
        return Today(program, stages[i].session, i, min(done[i] + 1, stages[i].days), tuple(done), last,
                     practised, held)
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


# ---------------------------------------------------------------- the side (SPEC §8)

CHECK_SESSION = "check"  # the built-in session of the self-check
CHECK_HOWTO = ("this session needs your working side: do the check session (`sisessions play check`) and "
               "record it with `sisessions log --check left|right|same`, or add --side left or --side right "
               "(`sisessions side set left` saves one)")


@dataclass(frozen=True)
class Side:
    side: str | None       # left | right | both | None
    source: str | None     # option | check | saved | None
    note: str              # one clause: where the side comes from (and how old a saved one is)
    age: int | None = None  # a saved side: days since it was saved or checked (None: unknown)


def _age(day: date, on: date) -> str:
    n = (on - day).days
    return "today" if n <= 0 else "yesterday" if n == 1 else f"{n} days ago ({day.isoformat()})"


def resolve_side(option: str | None = None, on: date | None = None,
                 records: list[log.Record] | None = None) -> Side:
    """The side a sided session uses: `--side`, else today's check ("same": both sides evenly),
    else the saved side (the newer of `side set` and the latest clear check), else None."""
    on = on or date.today()
    if option == "both":
        return Side("both", "option", "both sides evenly, as asked")
    if option:
        return Side(option, "option", f"the {option} side, as given with --side")
    if records is None:
        records = log.read()[0]
    checks = sorted((r for r in records if isinstance(r, log.Check) and r.day <= on),
                    key=lambda r: datetime.fromisoformat(r.time).timestamp())
    todays = [c for c in checks if c.day == on]
    if todays and todays[-1].result == "same":
        return Side("both", "check", "both sides evenly: today's check could not tell them apart "
                                     "(the side that hurts is not always the deeper one; a professional can assess it)")
    if todays:
        return Side(todays[-1].result, "check", f"the {todays[-1].result} side, from today's check")
    clear = [c for c in checks if c.result != "same"]
    saved, since = settings.saved_side(), settings.saved_side_date()
    if clear and (saved is None or (since is not None and clear[-1].day > since)):
        c = clear[-1]
        return Side(c.result, "saved", f"the {c.result} side, from your check {_age(c.day, on)}; "
                                       f"a check today would confirm it", (on - c.day).days)
    if saved:
        age = f"saved {_age(since, on)}" if since else "saved earlier (the day was not recorded)"
        return Side(saved, "saved", f"the {saved} side, {age}; a check today would confirm it",
                    (on - since).days if since else None)
    return Side(None, None, "none yet; do the short check (`sisessions play check`) and record it "
                            "with `sisessions log --check left|right|same`")


def uses_side(library: Library, session: Session | str) -> bool:
    """Whether a session does a sided pattern on the working side, its other, or both (working
    side first when one is known)."""
    s = library.session(session) if isinstance(session, str) else session
    return any(it.side not in ("left", "right") and library.pattern(it.pattern).sided for it in s.items)


def needs_side(library: Library, session: Session | str) -> bool:
    """Whether a session does a sided pattern on the working side or its other (an item on
    both sides, or on a fixed side, needs no working side)."""
    s = library.session(session) if isinstance(session, str) else session
    return any(it.side in ("working", "other") and library.pattern(it.pattern).sided for it in s.items)


# ---------------------------------------------------------------- the decision (SPEC §8)

RED_SHARE = 0.5        # a red day's session: about half the stage's session...
RED_MIN_MINUTES = 5    # ...but at least this long (--minutes keeps its first pattern)


@dataclass(frozen=True)
class Decision:
    """What today is, and why: the one answer `today`, `play today`, `export today`, schedules
    and the companion all take."""

    session: str | None
    title: str | None
    stage: int | None      # 1-based; None after the last stage (or with no programme)
    day: int | None
    days: int | None
    side: str | None
    side_from: str | None
    light: str | None
    reason: str
    minutes: float | None  # set on a red day: the stage's session, shorter
    refer: bool
    needs_side: bool = False
    warnings: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {"session": self.session, "title": self.title, "stage": self.stage, "day": self.day,
                "days": self.days, "side": self.side, "side_from": self.side_from, "light": self.light,
                "reason": self.reason, "minutes": self.minutes, "refer": self.refer}


def _shorter(library: Library, session_id: str, side: str | None) -> float:
    from sisessions.plan.timeline import PlanOptions, estimated  # late: only a red day plans here

    full = estimated(library.session(session_id), library, PlanOptions(side=side or "left")).seconds / 60
    return float(max(RED_MIN_MINUTES, round(full * RED_SHARE)))


def decide(library: Library, on: date | None = None, side: str | None = None) -> Decision:
    """Today's session, its light, side and reason (SPEC §8). `side` is a `--side` given."""
    on = on or date.today()
    prog = program(library)
    records, warnings = log.read()
    pains = Pains(records, prog.pain)
    t = walk(prog, records, on, pains)
    light = pains.light(on)
    refer = pains.refer(on)
    chosen = resolve_side(side, on, records)
    session, minutes = t.session, None
    if light.colour == RED:
        if prog.gentle:
            session = prog.gentle
            todo = f"the gentle session '{library.session(session).title}'"
        else:
            minutes = _shorter(library, session, chosen.side)
            todo = f"a shorter session, about {minutes:g} minutes of {session}"
        what = f"Red: {light.reason}; {todo} today, and the day does not count toward the stage."
    elif light.colour == GREEN:
        what = f"Green: {light.reason}; the programme goes on."
    else:
        what = f"Amber: {light.reason}; the same session again today, and the day does not count toward the stage."
    sided = uses_side(library, library.session(session))
    parts = []
    if refer:
        parts.append(f"Please see a doctor or physiotherapist before going on: {refer}.")
    parts += [what, t.why()]
    if sided:
        parts.append(f"Side: {chosen.note}.")
    stage = t.stage + 1 if t.stage is not None else None
    days = prog.stages[t.stage].days if t.stage is not None else None
    return Decision(session=session, title=library.session(session).title, stage=stage, day=t.day, days=days,
                    side=chosen.side if sided else None, side_from=chosen.source if sided else None,
                    light=light.colour, reason=" ".join(parts), minutes=minutes, refer=refer is not None,
                    needs_side=needs_side(library, library.session(session)), warnings=tuple(warnings))


def resolve_name(library: Library) -> str:
    """The session id that SESSION `today` stands for (a session or pattern of yours named
    `today` keeps its name: a user's file always wins over a built-in meaning)."""
    if NAME in library.sessions or NAME in library.patterns:
        return NAME
    return decide(library).session


def reachable(library: Library) -> list[str]:
    """Every session `today` can still lead to from here, for making them ready ahead."""
    t, _ = today(library)
    p = t.program
    rest = [s.session for s in p.stages[t.stage:]] if t.stage is not None else []
    rest.append(p.then or p.stages[-1].session)
    if p.gentle:
        rest.append(p.gentle)
    return list(dict.fromkeys(rest))
