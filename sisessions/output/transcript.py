"""The spoken text of a session, timed: lyrics for the ID3 tag and .lrc / .vtt files beside the MP3."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sisessions.fileio import atomic_write_text
from sisessions.plan.timeline import Kind, Timeline


@dataclass(frozen=True)
class Line:
    start: float  # seconds from the start of the file
    end: float
    text: str


def lines(tl: Timeline, start: int = 0, end: int | None = None) -> list[Line]:
    """Every spoken cue between frames `start` and `end`, timed from `start`."""
    end = tl.frames if end is None else end
    return [Line((c.start - start) / tl.rate, (c.end - start) / tl.rate, c.text)
            for c in tl.cues if c.kind == Kind.SAY and start <= c.start and c.end <= end]


def plain(ls: list[Line]) -> str:
    return "\n".join(ln.text for ln in ls)


def lrc_time(seconds: float) -> str:
    cs = round(seconds * 100)
    m, cs = divmod(cs, 6000)
    return f"{m:02d}:{cs // 100:02d}.{cs % 100:02d}"  # minutes may pass 59, as LRC allows


def vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    return f"{h:02d}:{m:02d}:{ms // 1000:02d}.{ms % 1000:03d}"


def lrc(ls: list[Line], title: str, seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    head = [f"[ti:{_one_line(title)}]", "[ar:sisessions]", f"[length:{m:02d}:{s:02d}]", "[by:sisessions]"]
    return "\n".join(head + [f"[{lrc_time(ln.start)}]{_one_line(ln.text)}" for ln in ls]) + "\n"


def vtt(ls: list[Line]) -> str:
    out = ["WEBVTT", ""]
    for n, ln in enumerate(ls, 1):
        text = _one_line(ln.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        out += [str(n), f"{vtt_time(ln.start)} --> {vtt_time(ln.end)}", text, ""]
    return "\n".join(out)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def sidecar_paths(mp3: Path) -> tuple[Path, Path]:
    mp3 = Path(mp3)
    return mp3.with_suffix(".lrc"), mp3.with_suffix(".vtt")


def write_sidecars(mp3: Path, ls: list[Line], title: str, seconds: float) -> list[Path]:
    """`NAME.lrc` and `NAME.vtt` beside `NAME.mp3`, each written atomically."""
    lrc_path, vtt_path = sidecar_paths(mp3)
    atomic_write_text(lrc_path, lrc(ls, title, seconds))
    atomic_write_text(vtt_path, vtt(ls))
    return [lrc_path, vtt_path]
