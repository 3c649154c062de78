"""The use cases the commands share: prepare a session with the user's choices, plan it, voice
it, export it, play it and log it, record a session done elsewhere, and resolve "today".

Commands (cli/) and the companion (phone/) call these; the stages below never call back up.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Callable

from sisessions import paths
from sisessions.choices import Choices
from sisessions.errors import UsageError
from sisessions.plan.timeline import (
    SAFETY_LINES,
    Event,
    Kind,
    PlanOptions,
    Timeline,
    duration_text,
    estimated,
    expand,
    place,
)
from sisessions.practice import log, today
from sisessions.script.library import Library
from sisessions.script.model import NO_BED, Item, Session
from sisessions.voice.cache import Cache
from sisessions.voice.engines.base import get_engine
from sisessions.voice.speech import Speech

if TYPE_CHECKING:  # numpy (for the bed) only when a bed is asked for; the export sinks
    from sisessions.output import export as exporting  # (mutagen, ffmpeg) only for exports
    from sisessions.sources.bed import Bed

__all__ = ["Choices", "Prepared", "open_library", "resolve_today", "today_decision", "resolve_side",
           "check_wanted", "prepare", "open_speech", "speech_session", "texts", "plan", "export_request", "export",
           "play_and_log", "log_outcome", "done_elsewhere", "past_or_today", "record_check", "record_pain", "around",
           "duration_text"]


@dataclass(frozen=True)
class Prepared:
    library: Library
    session: Session
    opts: PlanOptions
    events: tuple[Event, ...] = field(repr=False)
    left_out: tuple[str, ...] = ()    # titles of the items --minutes left out, in that order
    bed: Bed | None = None            # the bed to mix under it (sources/bed.py), None: none
    side: today.Side | None = None    # where the side came from (None: the session needs none)
    decision: today.Decision | None = None  # for SESSION `today`: the day's decision


def open_library(scripts: tuple[str, ...] = ()) -> Library:
    lib = Library(paths.library_dirs(scripts))
    lib.check_dirs()
    return lib


def resolve_today(library: Library, name: str, side: str | None = None,
                  on: date | None = None) -> tuple[str, today.Decision | None]:
    """SESSION as given, with `today` turned into the day's decision (SPEC §8): the one place
    that does it (a session or pattern of yours named `today` keeps its name). `side` is a
    `--side` given; `on` another day than today (what `today` was then)."""
    if name != today.NAME or today.NAME in library.sessions or today.NAME in library.patterns:
        return name, None
    d = today.decide(library, on=on, side=side)
    return d.session, d


def today_decision(library: Library, side: str | None = None) -> today.Decision:
    """What `today`, `today --json` and the companion's /api/today answer."""
    return today.decide(library, side=side)


def resolve_side(library: Library, session: Session, option: str | None = None,
                 unattended: bool = False, on: date | None = None) -> today.Side | None:
    """The side a session uses (SPEC §8): --side, today's check, the saved side; None when the
    session needs none. Nothing found: both sides evenly when nobody can answer (a schedule),
    else exit 2 pointing at the check session."""
    if not today.uses_side(library, session):
        return None
    side = today.resolve_side(option, on)
    if side.side is None:
        if not today.needs_side(library, session):
            return None  # only items on both sides: left first, no side needed
        if not unattended:
            raise UsageError(today.CHECK_HOWTO)
        side = today.Side("both", None, "both sides evenly: no check today and no side saved")
    return side


def check_wanted(library: Library, name: str, choices: Choices) -> bool:
    """Whether `play` should start with the short check (SPEC §8): the session (for `today`,
    today's decision) needs a side, none was given with --side, and no check is recorded today.
    After asking, record the answer with record_check and prepare() takes the side from it; with
    no answer, prepare(..., unattended=True) takes the saved side, else both sides evenly."""
    if choices.side:
        return False
    sid, _decision = resolve_today(library, name)
    return today.needs_side(library, library.session(sid)) and log.check_on(date.today()) is None


def _opening(decision: today.Decision | None, side: today.Side | None) -> list[str]:
    """What the voice says after the safety lines: see a professional (refer), a red day's
    gentler session, and how old a saved side is (SPEC §8)."""
    lines = []
    if decision is not None and decision.refer:
        lines.append("Your recent pain entries are high. Before you go on with the programme, "
                     "please see a doctor or physiotherapist.")
    if decision is not None and decision.light == "red":
        lines.append("Today is a shorter, gentler session, because of your recent pain.")
    if side is not None and side.source == "saved" and (side.age is None or side.age >= 1):
        age = ("some time ago" if side.age is None else "yesterday" if side.age == 1
               else f"{side.age} days ago")
        lines.append(f"Today uses your {side.side} side, saved {age}. A check before practice would confirm it.")
    if side is not None and side.source is None and side.side == "both":
        lines.append("No side is known, so today each side is done evenly.")
    return lines


def prepare(library: Library, name: str, choices: Choices, unattended: bool = False) -> Prepared:
    """Load and check the session and expand it with the choices; no audio is made here.
    `unattended` (a schedule's run): with no side known, both sides evenly instead of exit 2."""
    sid, decision = resolve_today(library, name, choices.side)
    session = library.session(sid)
    choices.check()
    side = resolve_side(library, session, choices.side, unattended)
    minutes = choices.minutes if choices.minutes is not None else (decision.minutes if decision else None)
    opts = PlanOptions(side=side.side if side else None, pace=choices.pace, skip=frozenset(choices.skip),
                       wpm=choices.rate)
    left_out: tuple[str, ...] = ()
    if minutes is not None:
        # late: only --minutes needs the fitting search
        from sisessions.plan.fit import fit

        fitted = fit(session, library, opts, minutes)
        session, opts = fitted.session, fitted.opts
        left_out = tuple(library.pattern(it.pattern).title for it in fitted.left_out)
    events = _with_opening(expand(session, library, opts), _opening(decision, side))
    bed = None
    spec = choices.bed or session.bed
    if spec not in (None, NO_BED):  # numpy only when a bed is asked for
        from sisessions.sources.bed import choose

        bed = choose(spec, choices.bed_level)
    return Prepared(library, session, opts, events, left_out, bed, side, decision)


def _with_opening(events: tuple[Event, ...], lines: list[str]) -> tuple[Event, ...]:
    if not lines:
        return events
    at = next((i + 1 for i in range(len(events) - 1, -1, -1)
               if events[i].kind == Kind.SAY and events[i].text == SAFETY_LINES[-1]), 0)
    return events[:at] + tuple(Event(Kind.SAY, text=t) for t in lines) + events[at:]


PLAYING_NICE = 10   # synthesis during `play` runs this much nicer: the audio thread comes first


def open_speech(choices: Choices, cache_dir: str | None = None, nice: int = 0) -> Speech:
    engine = get_engine(choices.engine)
    return Speech(engine.settings(choices.voice, choices.rate), Cache(paths.cache_dir(cache_dir)), nice=nice)


@contextlib.contextmanager
def speech_session(choices: Choices, cache_dir: str | None, nice: int = 0):
    sp = open_speech(choices, cache_dir, nice)
    try:
        yield sp
    finally:
        sp.close()


def texts(p: Prepared) -> list[str]:
    return list(dict.fromkeys(e.text for e in p.events if e.kind == Kind.SAY))


def plan(p: Prepared, speech: Speech, progress: Callable[[str], None] | None = None) -> Timeline:
    """The exact timeline: synthesizes (and caches) what is missing, then places every cue."""
    speech.ensure(texts(p), progress)
    return place(p.session, p.library, p.events, p.opts, speech.frames)


def export_request(p: Prepared, **options) -> exporting.Request:
    """An export request for this session, checked before any audio is made (the album is the
    library's name for your own scripts)."""
    from sisessions.output import export as exporting  # late: `play` never loads the sinks

    req = exporting.Request(album=exporting.album_for(p.session), bed=p.bed, **options)
    exporting.check(req)
    return req


def export(tl: Timeline, speech: Speech, req: exporting.Request) -> exporting.Written:
    """Every kind of export (-o FILE, -o DIR/, --split, --to/--keep, sidecars) by one path."""
    from sisessions.output import export as exporting  # late: `play` never loads the sinks

    return exporting.export(tl, speech, req)


def past_or_today(day: date | None) -> date:
    day = day or date.today()
    if day > date.today():
        raise UsageError(f"{day.isoformat()} is in the future; the log records what has happened")
    return day


def done_elsewhere(library: Library, name: str, day: date | None = None) -> log.Play:
    """Record a completed play of a session done away from this computer (on the phone, from an
    export), so that the streak and `today`'s programme move on as after a play here. `day`: a
    day before today (`log --done SESSION --date D`)."""
    day = past_or_today(day)
    session = library.session(resolve_today(library, name, on=day)[0])
    chosen = resolve_side(library, session, unattended=True, on=day)
    side = chosen.side if chosen else None
    minutes = estimated(session, library, PlanOptions(side=side or "left")).seconds / 60
    rec = log.play_record(session.id, side, 1.0, "elsewhere", True, None, minutes, time=log.time_on(day))
    log.append(rec)
    return rec


def record_check(result: str, day: date | None = None, rid: str | None = None) -> bool:
    """Record a self-check (left, right or same) for today or a day before; False when a record
    with this client id was already written."""
    return log.append_new(log.check_record(result, log.time_on(past_or_today(day), hour=7), id=rid))


def record_pain(pain: int, when: str = "other", day: date | None = None, note: str | None = None,
                rid: str | None = None) -> bool:
    """Record a pain entry (after a session, in the morning, or other) for today or a day before."""
    hour = {"morning": 7, "after": 18}.get(when, 12)
    rec = log.pain_record(pain, note, when=when, time=log.time_on(past_or_today(day), hour), id=rid)
    return log.append_new(rec)


CHECK_PATTERN = "quick-check"  # the short self-check play starts with when it asks the side


def around(library: Library, name: str, choices: Choices, asks: bool, check_in: bool = True):
    """What `play` asks around the session (play.around.Around): the short check and its
    question when `asks` (see check_wanted), the check-in when `check_in`. The answer to the
    check is written to the practice log as it comes, and the session is then prepared with
    the side it gives (no answer: the saved side, else both sides, as for a schedule)."""
    from sisessions.play.around import Around, lead  # late: only play needs it

    if not asks:
        return Around(check_in=check_in)
    pattern = library.pattern(CHECK_PATTERN)
    check = Session(CHECK_PATTERN, pattern.path, pattern.title, (Item(CHECK_PATTERN, pattern.loc),), chime=False)
    events = expand(check, library, PlanOptions(wpm=choices.rate))

    def for_answer(answer: str | None, asked: bool, record: bool = True):
        if answer is None:
            return prepare(library, name, choices, unattended=True), lead(None, asked)
        if record:  # then today's check gives the side ("same": both sides evenly)
            record_check(answer)
            return prepare(library, name, choices), lead(answer, asked)
        # the log could not be written: the answer's side all the same (for "same", as unanswered)
        if answer == "same":
            return prepare(library, name, choices, unattended=True), lead(answer, asked)
        return prepare(library, name, replace(choices, side=answer)), lead(answer, asked)

    return Around(check=events, titles={CHECK_PATTERN: pattern.title}, for_answer=for_answer,
                  check_in=check_in)


def play_and_log(p: Prepared, speech: Speech, options, name: str, debug: bool = False,
                 around=None) -> str:
    """Play the session to the audio output (options: play.session.PlayOptions), then write its
    practice-log record, whatever the ending; returns the closing sentence. Ctrl-C and a lost
    output raise (exit 1) after the record is written, saying where the session stopped. With
    `around` (from `around()`), the check before it and the check-in after it (its pain is
    written after the play's record, as "after")."""
    # late: the player loads the audio backends, which no other command needs
    from sisessions.play.session import play

    return log_outcome(play(p, speech, options, name, debug=debug, around=around))


def log_outcome(outcome) -> str:
    """Write a play's practice-log record (play.session.Outcome), then its check-in's pain;
    returns the closing sentence (Outcome.conclude, which raises for Ctrl-C and a lost output)."""
    try:
        log.append(log.play_record(outcome.session, outcome.side, outcome.pace, outcome.engine,
                                   outcome.completed, outcome.pattern, outcome.minutes))
        if outcome.pain is not None:  # the check-in, after the play it is about
            log.append(log.pain_record(outcome.pain, when="after"))
        logged = ""
    except OSError as e:
        logged = f" (the practice log could not be written: {e.strerror or e})"
    return outcome.conclude(logged)
