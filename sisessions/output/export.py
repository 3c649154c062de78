"""Every export by one path: a WAV, an MP3 with its transcript files, one MP3 per item with a
playlist (`--split`), and dated files in a synced folder that keeps only the newest N of the
files it wrote (`--to`/`--keep`). A new kind of output file is a sink module beside this one
and one branch in `export`."""
from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sisessions import paths
from sisessions.errors import AudioError, SisessionsError, UsageError
from sisessions.fileio import atomic_write_text, clean_stale_parts, temp_dir
from sisessions.output import retention, transcript
from sisessions.output.chapters import Chapter, chapters
from sisessions.output.mp3 import encode_within_norm, write_mp3
from sisessions.output.render import cues_chunks, render
from sisessions.output.tags import ARTIST, TagInfo, session_title, write_tags
from sisessions.output.wav import write_wav
from sisessions.plan.timeline import Timeline
from sisessions.voice.speech import Speech

if TYPE_CHECKING:  # numpy (for the bed) only when a bed is asked for
    from sisessions.sources.bed import Bed

SET_MANIFEST = ".sisessions-set.json"  # in a --split folder: the files of the set it wrote


class NotOurs(SisessionsError):
    """The place an export would replace holds files this program did not write (exit 1)."""


@dataclass(frozen=True)
class Request:
    """What `export` was asked for: where (-o, --to), how (--split, bitrate) and what to keep."""

    output: str | None = None         # -o FILE.mp3 or DIR/
    bitrate: int = 64
    album: str = ARTIST
    split: bool = False
    to: str | None = None             # a synced folder: YYYY-MM-DD-<session>.mp3
    keep: int | None = None           # with `to`: keep the newest N exports of this session
    sidecars: bool = True
    today: datetime.date | None = None
    bed: Bed | None = None            # a quiet sound under the session (sources/bed.py)


@dataclass(frozen=True)
class Written:
    path: Path                        # the MP3, or the playlist of a split set
    files: tuple[Path, ...]
    removed: tuple[Path, ...] = ()


def album_for(session) -> str:
    """The album tag: `sisessions` for the built-in library, else your library folder's name."""
    lib = Path(session.path).resolve().parent.parent
    if lib == paths.builtin_scripts().resolve():
        return ARTIST
    return lib.name or ARTIST


def tag_info(speech: Speech, album: str, date: datetime.date | None = None) -> TagInfo:
    s = speech.settings
    voice = Path(s.voice).stem if os.sep in s.voice else s.voice
    return TagInfo(album=album, engine=f"{s.engine} {voice}, {s.rate} wpm",
                   date=(date or datetime.date.today()).isoformat(), track=(1, 1))


# ---------------------------------------------------------------- one MP3 with its sidecars


def write_session_mp3(tl: Timeline, speech: Speech, target: Path, bitrate: int, album: str,
                      sidecars: bool = True, date: datetime.date | None = None,
                      bed: Bed | None = None) -> list[Path]:
    """The whole session as one tagged MP3 with chapters, plus `.lrc` and `.vtt` beside it."""
    info = tag_info(speech, album, date)
    write_mp3(lambda: render(tl, speech, bed=bed), target, bitrate, tag=lambda f: write_tags(f, tl, info))
    files = [Path(target)]
    if sidecars:
        files += transcript.write_sidecars(target, transcript.lines(tl), session_title(tl), tl.seconds)
    return files


# ---------------------------------------------------------------- export --split / --to / --keep


def check(req: Request) -> None:
    """The mistakes in a request that can be told before any audio is made."""
    retention.check(req.keep, req.to)
    if req.to and req.output:
        raise UsageError("give either -o or --to, not both")
    if req.to and Path(req.to).expanduser().exists() and not Path(req.to).expanduser().is_dir():
        raise UsageError(f"--to {req.to}: that is a file, not a folder")
    if req.split and req.output and req.output.lower().endswith(".wav"):
        raise UsageError("--split writes MP3 files: give -o a folder ending in / or a name ending in .mp3")
    if req.output:
        p = Path(req.output).expanduser()
        with contextlib.suppress(OSError):
            if not (p.is_dir() or stat.S_ISREG(p.stat().st_mode)):  # a FIFO, a device, a socket
                raise UsageError(f"-o {req.output}: that is not a regular file, so nothing is written over it")


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
    if p.is_symlink():  # a link (into a synced folder, say) stays a link: the file it names is replaced
        p = p.resolve()
    return p, suffix[1:]


def export(tl: Timeline, speech: Speech, req: Request) -> Written:
    """The one way out: every option combination of `export` (and the companion's renders)."""
    check(req)
    try:
        if req.to:
            return _export_to(tl, speech, req)
        target, fmt = resolve_output(req.output, tl)
        if req.split:
            if fmt != "mp3":
                raise UsageError("--split writes MP3 files: give -o a folder ending in / or a name ending in .mp3")
            return write_split(tl, speech, target.with_suffix(""), req.bitrate, req.album, req.sidecars, req.today,
                               bed=req.bed)
        if fmt == "wav":
            write_wav(render(tl, speech, bed=req.bed), target)
            return Written(target, (target,))
        files = write_session_mp3(tl, speech, target, req.bitrate, req.album, req.sidecars, req.today, req.bed)
        return Written(target, tuple(files))
    except OSError as e:
        raise AudioError(f"could not write the export: {e.strerror or e}"
                         + (f" ({e.filename})" if e.filename else "")) from e


def _export_to(tl: Timeline, speech: Speech, req: Request) -> Written:
    folder = Path(req.to).expanduser()
    today = req.today or datetime.date.today()
    stem = f"{today.isoformat()}-{tl.session}"
    if req.split:
        done = write_split(tl, speech, folder / stem, req.bitrate, req.album, req.sidecars, today, bed=req.bed)
    else:
        target = folder / f"{stem}.mp3"
        files = write_session_mp3(tl, speech, target, req.bitrate, req.album, req.sidecars, today, req.bed)
        done = Written(target, tuple(files))
    removed = retention.record(folder, tl.session, today, done.files, req.keep)
    return replace(done, removed=tuple(removed))


# ---------------------------------------------------------------- split


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "part"


def write_split(tl: Timeline, speech: Speech, folder: Path, bitrate: int, album: str,
                sidecars: bool = True, date: datetime.date | None = None, bed: Bed | None = None) -> Written:
    """FOLDER/NN-title.mp3 for every chapter and FOLDER/FOLDER.m3u8; all of it or nothing."""
    parts = chapters(tl)
    info = tag_info(speech, album, date)
    names = []
    with atomic_dir(folder) as tmp:
        for n, ch in enumerate(parts, 1):
            mp3 = tmp / f"{n:02d}-{slug(ch.title)}.mp3"
            encode_within_norm(lambda: _part_chunks(tl, ch, speech, bed), mp3, bitrate)
            write_tags(mp3, tl, replace(info, track=(n, len(parts))), part=ch)
            names.append(mp3.name)
            if sidecars:
                lines = transcript.lines(tl, ch.start, ch.end)
                names += [p.name for p in transcript.write_sidecars(mp3, lines, ch.title, _secs(tl, ch))]
        playlist = tmp / f"{folder.name}.m3u8"
        atomic_write_text(playlist, m3u8(tl, parts))
        names.append(playlist.name)
        sizes = {n: (tmp / n).stat().st_size for n in names}
        atomic_write_text(tmp / SET_MANIFEST, json.dumps({"version": 1, "files": sizes}, indent=1) + "\n")
        names.append(SET_MANIFEST)  # so that --keep removes it with the set
    return Written(folder / playlist.name, tuple(folder / n for n in names))


def _secs(tl: Timeline, ch: Chapter) -> float:
    return (ch.end - ch.start) / tl.rate


def _part_chunks(tl: Timeline, ch: Chapter, speech: Speech, bed: Bed | None = None) -> Iterator[bytes]:
    # the bed keeps the session's clock: it fades in once, at the session's start
    return cues_chunks(tl, tl.cues[ch.first:ch.stop], speech, bed, origin=0)


def m3u8(tl: Timeline, parts: tuple[Chapter, ...]) -> str:
    out = ["#EXTM3U", f"#PLAYLIST:{session_title(tl)}"]
    for n, ch in enumerate(parts, 1):
        out += [f"#EXTINF:{round(_secs(tl, ch))},{ARTIST} - {ch.title}", f"{n:02d}-{slug(ch.title)}.mp3"]
    return "\n".join(out) + "\n"


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """A hidden temp folder beside `target`, moved onto it only when the block succeeds.

    A folder already at `target` is replaced only when everything in it is a file of a split
    set this program wrote there, as its manifest records them (name and size): names alone
    prove nothing (a ripped album is named 01-title.mp3 too), so no file of yours is ever lost.
    """
    target = Path(target)
    if target.exists() or target.is_symlink():
        foreign = _not_ours(target)
        if foreign:
            raise NotOurs(f"{target} already exists and holds {foreign}, which sisessions did not write; "
                          "nothing was changed: choose another -o, or move that folder away")
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_parts(target.parent, dirs=True)  # what a killed (SIGKILL) split left behind
    with temp_dir(target) as tmp:
        yield tmp
        mask = _umask()
        for p in tmp.iterdir():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
            os.chmod(p, 0o666 & ~mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp's 0700 would hide the set from a sync tool or server
        old = None
        if target.exists():
            # named as a part too, so that a kill between the two renames leaves nothing the
            # next export does not clean: it holds only the earlier set that we wrote
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _not_ours(target: Path) -> str | None:
    """What at `target` is not part of a split set this program wrote, or None when it all is."""
    if target.is_symlink() or not target.is_dir():
        return "a file of that name"
    try:
        listed = json.loads((target / SET_MANIFEST).read_text(encoding="utf-8"))["files"]
        if not isinstance(listed, dict):
            listed = {}
    except (OSError, ValueError, KeyError, TypeError):
        listed = {}
    for p in sorted(target.iterdir()):
        if p.name == SET_MANIFEST and listed:
            continue
        size = listed.get(p.name)
        if p.is_symlink() or not p.is_file() or size is None or p.stat().st_size != size:
            return f"'{p.name}'"
    return None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
