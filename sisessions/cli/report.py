"""Text that the commands print: the library listing, the timeline table, the engines."""
from __future__ import annotations

from typing import Iterator

from sisessions.errors import SisessionsError
from sisessions.plan.catalogue import catalogue
from sisessions.plan.timeline import Kind, Timeline, duration_text
from sisessions.script.library import Library


def listing(library: Library) -> Iterator[str]:
    """Ids, titles, stages and planned lengths (speech estimated from word counts)."""
    from sisessions.practice import settings

    rows = []
    for e in catalogue(library, settings.saved_side()):
        if e.title is None:
            rows.append((e.kind, e.id, "(invalid: run `sisessions validate`)", "", ""))
        else:
            length = "~" + duration_text(e.seconds) if e.seconds is not None else "invalid"
            rows.append((e.kind, e.id, e.title, e.stage, length))
    wid = max((len(r[1]) for r in rows), default=10)
    wt = max((len(r[2]) for r in rows), default=10)
    kind = None
    for k, ident, title, stage, length in rows:
        if k != kind:
            if kind is not None:
                yield ""
            yield "SESSIONS" if k == "session" else "PATTERNS"
            kind = k
        yield f"  {ident:<{wid}}  {title:<{wt}}  {stage:<9}  {length:>8}".rstrip()


def _clock(frames: int, rate: int) -> str:
    """M:SS.s, rounded to the tenth first, so 599.96 s reads 10:00.0 and never 9:60.0."""
    m, s = divmod(round(frames * 10 / rate), 600)
    return f"{m:d}:{s / 10:04.1f}"


def table(tl: Timeline) -> Iterator[str]:

    side = f" · {tl.side} side" if tl.side else ""
    yield f"{tl.title} ({tl.session}){side} · pace {tl.pace:g} · {duration_text(tl.seconds)}"
    yield f"{'start':>7}  {'length':>6}  {'kind':<5}  {'pattern':<22}  text"
    for c in tl.cues:
        text = c.text or ("(silence)" if c.kind == Kind.PAUSE else "(chime)")
        yield (f"{_clock(c.start, tl.rate):>7}  {c.frames / tl.rate:6.1f}  {c.kind:<5}  "
               f"{(c.pattern or '-'):<22}  {text}")
    yield f"{_clock(tl.frames, tl.rate):>7}  end"


def engine_lines(with_voices: bool) -> Iterator[str]:
    from sisessions.voice.engines.base import REGISTRY, get_engine, voices  # `list` and `show` do without

    default = None
    try:
        default = get_engine(None).name
    except SisessionsError:
        pass
    for name in REGISTRY:
        e = get_engine(name)
        if not e.installed():
            yield f"{name:<8} not installed ({e.install_hint})"
            continue
        mark = " (default)" if name == default else ""
        voice, _ = e.resolve_voice(None)
        yield f"{name:<8} {e.label}{mark}; default voice: {voice}"
        if with_voices:
            for v in voices(e):
                yield f"           {v['id']:<28} {v.get('name', '')}"
