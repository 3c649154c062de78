"""The use cases the commands share: prepare a session with the user's choices, plan it, voice
it, export it, play it and log it, record a session done elsewhere, and resolve "today".

Commands (cli/) and the companion (phone/) call these; the stages below never call back up.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

from sisessions import paths
from sisessions.plan.timeline import (
    BOTH,
    Event,
    Kind,
    PlanOptions,
    Timeline,
    duration_text,
    estimated,
    expand,
    place,
)
from sisessions.practice import log, settings, today
from sisessions.script.library import Library
from sisessions.script.model import NO_BED, Item, Session
from sisessions.voice.cache import Cache
from sisessions.voice.engines.base import DEFAULT_RATE, check_rate, get_engine
from sisessions.voice.speech import Speech

if TYPE_CHECKING:  # numpy (for the bed) only when a bed is asked for; the export sinks
    from sisessions.output import export as exporting  # (mutagen, ffmpeg) only for exports
    from sisessions.sources.bed import Bed

__all__ = ["Choices", "Prepared", "open_library", "resolve_today", "prepare", "open_speech",
           "speech_session", "texts", "plan", "export_request", "export", "play_and_log", "done_elsewhere",
           "play_choices", "around", "needs_side",
           "duration_text"]


@dataclass(frozen=True)
class Choices:
    """The options of show, synth, play and export (SPEC §3)."""

    side: str | None = None
    pace: float = 1.0
    rate: int = DEFAULT_RATE
    engine: str | None = None
    voice: str | None = None
    skip: tuple[str, ...] = ()
    minutes: float | None = None
    bed: str | None = None            # a built-in bed, an audio file or "off"; None: the session's
    bed_level: float | None = None    # dBFS RMS of the bed in the silences; None: sources/bed.LEVEL


@dataclass(frozen=True)
class Prepared:
    library: Library
    session: Session
    opts: PlanOptions
    events: tuple[Event, ...] = field(repr=False)
    left_out: tuple[str, ...] = ()    # titles of the items --minutes left out, in that order
    bed: Bed | None = None            # the bed to mix under it (sources/bed.py), None: none


def open_library(scripts: tuple[str, ...] = ()) -> Library:
    lib = Library(paths.library_dirs(scripts))
    lib.check_dirs()
    return lib


def resolve_today(library: Library, name: str) -> str:
    """SESSION as given, with `today` turned into the programme's next session: the one place
    that does it (a session or pattern of yours named `today` keeps its name)."""
    return today.resolve_name(library) if name == today.NAME else name


def prepare(library: Library, name: str, choices: Choices) -> Prepared:
    """Load and check the session and expand it with the choices; no audio is made here."""
    session = library.session(resolve_today(library, name))
    check_rate(choices.rate)
    side = choices.side or settings.saved_side()
    opts = PlanOptions(side=side, pace=choices.pace, skip=frozenset(choices.skip), wpm=choices.rate)
    left_out: tuple[str, ...] = ()
    if choices.minutes is not None:
        # late: only --minutes needs the fitting search
        from sisessions.plan.fit import fit

        fitted = fit(session, library, opts, choices.minutes)
        session, opts = fitted.session, fitted.opts
        left_out = tuple(library.pattern(it.pattern).title for it in fitted.left_out)
    events = expand(session, library, opts)
    bed = None
    spec = choices.bed or session.bed
    if spec not in (None, NO_BED):  # numpy only when a bed is asked for
        from sisessions.sources.bed import choose

        bed = choose(spec, choices.bed_level)
    return Prepared(library, session, opts, events, left_out, bed)


def open_speech(choices: Choices, cache_dir: str | None = None) -> Speech:
    engine = get_engine(choices.engine)
    return Speech(engine.settings(choices.voice, choices.rate), Cache(paths.cache_dir(cache_dir)))


@contextlib.contextmanager
def speech_session(choices: Choices, cache_dir: str | None):
    sp = open_speech(choices, cache_dir)
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


def done_elsewhere(library: Library, name: str) -> log.Play:
    """Record a completed play of a session done away from this computer (on the phone, from an
    export), so that the streak and `today`'s programme move on as after a play here."""
    session = library.session(resolve_today(library, name))
    side = settings.saved_side()
    minutes = estimated(session, library, PlanOptions(side=side or "left")).seconds / 60
    rec = log.play_record(session.id, side, 1.0, "elsewhere", True, None, minutes)
    log.append(rec)
    return rec


CHECK_PATTERN = "quick-check"  # the short self-check play starts with when it asks the side


def needs_side(library: Library, name: str) -> bool:
    """Whether the session has an item played on the person's working side."""
    session = library.session(resolve_today(library, name))
    return any(it.side not in ("left", "right") and library.pattern(it.pattern).sided for it in session.items)


def play_choices(library: Library, name: str, choices: Choices, check: bool = True) -> tuple[Choices, bool]:
    """The choices `play` prepares with, and whether it asks the side first (SPEC §8): --side,
    else today's check (same: both sides), else, with the check on and a session that needs
    a side, ask (prepared provisionally on both sides); else the saved side, as `prepare` does."""
    if choices.side is not None or not needs_side(library, name):
        return choices, False
    today_check = log.check_on()
    if today_check is not None:
        return replace(choices, side=BOTH if today_check == "same" else today_check), False
    if not check:
        return choices, False
    return replace(choices, side=BOTH), True


def saved_since() -> str | None:
    """How old the saved side is, in words ("saved today", "saved 3 days ago"), from the last
    check that found it (the settings file keeps no date); None when no check did."""
    side = settings.saved_side()
    found = [r for r in log.read()[0] if isinstance(r, log.Check) and r.result == side]
    if not found:
        return None
    days = (dt.date.today() - found[-1].day).days
    return "checked today" if days == 0 else "checked yesterday" if days == 1 else f"checked {days} days ago"


def around(library: Library, name: str, choices: Choices, asks: bool, check_in: bool = True):
    """What `play` asks around the session (play.around.Around): the check when `asks`, the
    check-in when `check_in`; the check is written to the practice log as it is answered."""
    from sisessions.play.around import Around  # late: only play needs it

    def record(kind: str, value: str) -> None:  # the check, at once (the pain: play_and_log)
        if kind == "check":
            log.append(log.check_record(value))

    if not asks:
        return Around(check_in=check_in, record=record)
    pattern = library.pattern(CHECK_PATTERN)
    check = Session(CHECK_PATTERN, pattern.path, pattern.title, (Item(CHECK_PATTERN, pattern.loc),), chime=False)
    events = expand(check, library, PlanOptions(wpm=choices.rate))
    saved = settings.saved_side()
    return Around(check=events, titles={CHECK_PATTERN: pattern.title}, saved=saved,
                  saved_since=saved_since() if saved else None,
                  for_side=lambda side: prepare(library, name, replace(choices, side=side)),
                  check_in=check_in, record=record)


def play_and_log(p: Prepared, speech: Speech, options, name: str, debug: bool = False,
                 around=None) -> str:
    """Play the session to the audio output (options: play.session.PlayOptions), then write its
    practice-log record, whatever the ending; returns the closing sentence. Ctrl-C and a lost
    output raise (exit 1) after the record is written, saying where the session stopped. With
    `around` (from `around()`), the check before it and the check-in after it."""
    # late: the player loads the audio backends, which no other command needs
    from sisessions.play.session import play

    outcome = play(p, speech, options, name, debug=debug, around=around)
    try:
        log.append(log.play_record(outcome.session, outcome.side, outcome.pace, outcome.engine,
                                   outcome.completed, outcome.pattern, outcome.minutes))
        if outcome.pain is not None:  # the check-in, after the play it is about
            log.append(log.pain_record(outcome.pain, when="after"))
        logged = ""
    except OSError as e:
        logged = f" (the practice log could not be written: {e.strerror or e})"
    return outcome.conclude(logged)
