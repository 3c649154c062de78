"""Text that the commands print: the library listing, the timeline table, the engines."""
from __future__ import annotations

from typing import Iterator

from sisessions.errors import SisessionsError
from sisessions.plan.timeline import (
    Kind,
    PlanOptions,
    Timeline,
    duration_text,
    estimated,
)
from sisessions.script.library import Library
from sisessions.script.load import session_for_pattern


def _length(library: Library, session, opts: PlanOptions) -> str:
    try:
        return "~" + duration_text(estimated(session, library, opts).seconds)
    except SisessionsError:
        return "invalid"


def listing(library: Library) -> Iterator[str]:
    """Ids, titles, stages and planned lengths (speech estimated from word counts)."""
    from sisessions.practice import settings

    opts = PlanOptions(side=settings.saved_side() or "left")  # read once, not per row
    rows = []
    for sid in sorted(library.sessions):
        try:
            s = library.session(sid)
            rows.append(("session", sid, s.title, "", _length(library, s, opts)))
        except SisessionsError:
            rows.append(("session", sid, "(invalid: run `sisessions validate`)", "", ""))
    for pid in sorted(library.patterns):
        try:
            p = library.pattern(pid)
            rows.append(("pattern", pid, p.title, p.stage or "", _length(library, session_for_pattern(p), opts)))
        except SisessionsError:
            rows.append(("pattern", pid, "(invalid: run `sisessions validate`)", "", ""))
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
    s = frames / rate
    return f"{int(s // 60):d}:{s % 60:04.1f}"


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
    from sisessions.voice.engines.base import REGISTRY, get_engine

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
            from sisessions.choices import DEFAULT_RATE
            from sisessions.voice.engines.base import Worker, engine_timeout

            w = Worker(e.settings(None, DEFAULT_RATE))
            try:
                voices = w.request({"op": "voices"}, engine_timeout(""))["voices"]
            finally:
                w.close()
            for v in voices:
                yield f"           {v['id']:<28} {v.get('name', '')}"
