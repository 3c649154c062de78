"""What the commands share: resolve a session with the user's choices, plan it, voice it."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from sisessions import paths
from sisessions.errors import AudioError, UsageError
from sisessions.plan.timeline import Event, PlanOptions, Timeline, expand, place
from sisessions.practice import settings
from sisessions.script.library import Library
from sisessions.script.model import NO_BED, Session
from sisessions.voice.cache import Cache
from sisessions.voice.engines.base import DEFAULT_RATE, check_rate, get_engine
from sisessions.voice.speech import Speech

if TYPE_CHECKING:  # numpy (for the bed) only when a bed is asked for
    from sisessions.output.bed import Bed


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
    bed_level: float | None = None    # dBFS RMS of the bed in the silences; None: output/bed.LEVEL


@dataclass(frozen=True)
class Prepared:
    library: Library
    session: Session
    opts: PlanOptions
    events: tuple[Event, ...] = field(repr=False)
    left_out: tuple[str, ...] = ()    # titles of the items --minutes left out, in that order
    bed: Bed | None = None            # the bed to mix under it (output/bed.py), None: none


def open_library(scripts: tuple[str, ...] = ()) -> Library:
    lib = Library(paths.library_dirs(scripts))
    lib.check_dirs()
    return lib


def prepare(library: Library, name: str, choices: Choices) -> Prepared:
    """Load and check the session and expand it with the choices; no audio is made here."""
    if name == "today":  # the programme's next session, from the practice log
        from sisessions.practice.today import resolve_name

        name = resolve_name(library)
    session = library.session(name)
    check_rate(choices.rate)
    side = choices.side or settings.saved_side()
    opts = PlanOptions(side=side, pace=choices.pace, skip=frozenset(choices.skip), wpm=choices.rate)
    left_out: tuple[str, ...] = ()
    if choices.minutes is not None:
        from sisessions.plan.fit import fit

        fitted = fit(session, library, opts, choices.minutes)
        session, opts = fitted.session, fitted.opts
        left_out = tuple(library.pattern(it.pattern).title for it in fitted.left_out)
    events = expand(session, library, opts)
    bed = None
    spec = choices.bed or session.bed
    if spec not in (None, NO_BED):  # numpy only when a bed is asked for
        from sisessions.output.bed import choose

        bed = choose(spec, choices.bed_level)
    return Prepared(library, session, opts, events, left_out, bed)


def open_speech(choices: Choices, cache_dir: str | None = None) -> Speech:
    engine = get_engine(choices.engine)
    return Speech(engine.settings(choices.voice, choices.rate), Cache(paths.cache_dir(cache_dir)))


def texts(p: Prepared) -> list[str]:
    return list(dict.fromkeys(e.text for e in p.events if e.kind == "say"))


def plan(p: Prepared, speech: Speech, progress: Callable[[str], None] | None = None) -> Timeline:
    """The exact timeline: synthesizes (and caches) what is missing, then places every cue."""
    speech.ensure(texts(p), progress)
    return place(p.session, p.library, p.events, p.opts, speech.frames)


def output_name(tl: Timeline) -> str:
    side = f"-{tl.side}" if tl.side and any(c.side for c in tl.cues) else ""
    return f"{tl.session}{side}"


def resolve_output(out: str | None, tl: Timeline) -> tuple[Path, str]:
    """(path, format) for `-o FILE.mp3|FILE.wav|DIR/`; no -o writes <session>.mp3 here."""
    if out is None:
        return Path(f"{output_name(tl)}.mp3"), "mp3"
    p = Path(out).expanduser()
    if out.endswith(("/", "\\")) or p.is_dir():
        return p / f"{output_name(tl)}.mp3", "mp3"
    suffix = p.suffix.lower()
    if suffix not in (".mp3", ".wav"):
        raise UsageError(f"-o {out}: the file name must end in .mp3 or .wav (or give a folder ending in /)")
    return p, suffix[1:]


def export(tl: Timeline, speech: Speech, out: str | None, bitrate: int = 64,
           album: str = "sisessions", sidecars: bool = True) -> Path:
    target, fmt = resolve_output(out, tl)
    try:
        _write(tl, speech, target, fmt, bitrate, album, sidecars)
    except OSError as e:
        raise AudioError(f"could not write {target}: {e.strerror or e}") from e
    return target


def _write(tl: Timeline, speech: Speech, target: Path, fmt: str, bitrate: int, album: str,
           sidecars: bool = True) -> None:
    from sisessions.output.render import render

    if fmt == "wav":
        from sisessions.output.wav import write_wav

        write_wav(render(tl, speech), target)
    else:
        from sisessions.output.export import write_session_mp3

        write_session_mp3(tl, speech, target, bitrate, album, sidecars)  # tags, chapters, .lrc/.vtt


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@contextlib.contextmanager
def speech_session(choices: Choices, cache_dir: str | None):
    sp = open_speech(choices, cache_dir)
    try:
        yield sp
    finally:
        sp.close()


def play_and_log(p: Prepared, speech: Speech, options, name: str, debug: bool = False) -> str:
    """Play the session to the audio output (options: play.session.PlayOptions), then write its
    practice-log record, whatever the ending; returns the closing sentence. Ctrl-C and a lost
    output raise (exit 1) after the record is written, saying where the session stopped."""
    from sisessions.play.session import play
    from sisessions.practice import log  # (also imported above; here the function stands alone)

    outcome = play(p, speech, options, name, debug=debug)
    try:
        log.append(log.play_record(outcome.session, outcome.side, outcome.pace, outcome.engine,
                                   outcome.completed, outcome.pattern, outcome.minutes))
        logged = ""
    except OSError as e:
        logged = f" (the practice log could not be written: {e.strerror or e})"
    return outcome.conclude(logged)
