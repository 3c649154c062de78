"""Content-addressed speech clips on disk: key = engine, version, voice, settings, text, format.

Layout: ROOT/CACHEDIR.TAG (the marker: this folder is ours) and ROOT/clips/KK/KEY.SUM.wav, where
KK is the key's first two characters and SUM a checksum of the clip's samples, checked on every
read so a clip damaged on disk is made again instead of played as noise. Only files in this
layout are ever removed, and a folder that was never a cache is never written into.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

from sisessions.audio import CHANNELS, FORMAT_ID, RATE, WIDTH
from sisessions.errors import SisessionsError
from sisessions.fileio import PART_NAME, atomic_path, atomic_write_text, clean_stale_parts
from sisessions.voice.clip import PROCESS_VERSION
from sisessions.voice.engines.base import SpeechSettings

HEADER = 44  # the wave module always writes a 44-byte header for PCM
# The Cache Directory Tagging standard (https://bford.info/cachedir/): backup tools skip the
# folder, and the second line tells our own cache from another program's.
MARKER = "CACHEDIR.TAG"
MARKER_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"
               "# This file is a cache directory tag created by sisessions (spoken clips).\n"
               "# For information about cache directory tags see https://bford.info/cachedir/\n")
# KEY.SUM.wav; KEY.wav is an entry of an earlier version (no checksum: always a miss).
ENTRY = re.compile(r"^([0-9a-f]{64})(?:\.([0-9a-f]{16}))?\.wav$")
# ROOT/beds/: audio files given to --bed, converted once (sources/bed.py): HASH.s16 and HASH.json
BEDS = "beds"
BED_ENTRY = re.compile(r"^[0-9a-f]{32}\.(s16|json)$")


class NotACache(SisessionsError):
    """The cache folder holds files that are not clips and was never marked as a cache."""


def checksum(samples: bytes) -> str:
    # blake2b at 8 bytes: as fast as a CRC here (the file read costs more) and no accidental
    # match for a damaged sector
    return hashlib.blake2b(samples, digest_size=8).hexdigest()


@dataclass(frozen=True)
class Cleared:
    removed: int                  # clips removed
    beds: int                     # converted bed files removed
    left: tuple[Path, ...]        # what is not a clip and was left where it was


class Cache:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.clips = self.root / "clips"
        self._claimed = False
        self._claim_lock = threading.Lock()  # synthesis threads put at once

    @staticmethod
    def key(settings: SpeechSettings, text: str) -> str:
        fields = {"settings": settings.key_fields(), "text": text, "format": FORMAT_ID,
                  "process": PROCESS_VERSION}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def path(self, key: str, digest: str) -> Path:
        return self.clips / key[:2] / f"{key}.{digest}.wav"

    def _entries(self, key: str) -> list[Path]:
        d = self.clips / key[:2]
        try:
            names = os.listdir(d)
        except OSError:
            return []
        return [d / n for n in names if n.startswith(key) and (m := ENTRY.match(n)) and m[1] == key]

    def get(self, key: str) -> tuple[Path, int] | None:
        """(path, frames) of a sound entry; a missing, truncated, damaged or foreign file is a miss."""
        for p in self._entries(key):
            frames = clip_frames(p)
            if frames is not None:
                return p, frames
        return None

    def put(self, key: str, pcm: bytes) -> tuple[Path, int]:
        """Store a clip; returns the entry to use for this key.

        Two processes that make the same line at once (two cold syntheses of one session)
        may make two versions of it (Piper's output varies a little): every writer keeps
        the same one (the smallest checksum among the intact entries) and removes the rest,
        so one version stays. A process that held a removed one finds the kept one on its
        next read (voice/speech.Speech.samples).
        """
        self.claim()
        p = self.path(key, checksum(pcm))
        with atomic_path(p) as tmp:
            with wave.open(str(tmp), "wb") as w:
                w.setnchannels(CHANNELS)
                w.setsampwidth(WIDTH)
                w.setframerate(RATE)
                w.writeframes(pcm)
        found = [(other, clip_frames(other)) for other in sorted(self._entries(key))]
        intact = [(other, n) for other, n in found if n is not None]
        keep = intact[0] if intact else (p, len(pcm) // WIDTH)
        for other, _n in found:  # damaged copies, and every other version
            if other != keep[0]:
                with contextlib.suppress(OSError):
                    other.unlink()
        return keep

    # -- is this folder ours?
    def is_marked(self) -> bool:
        try:
            return (self.root / MARKER).read_text(encoding="utf-8", errors="replace").startswith(
                MARKER_TEXT.split("\n", 2)[0] + "\n# This file is a cache directory tag created by sisessions")
        except OSError:
            return False

    def foreign(self) -> list[Path]:
        """Everything under the root that is not in the cache's own layout (folders not opened)."""
        out: list[Path] = []
        try:
            top = sorted(os.scandir(self.root), key=lambda e: e.name)
        except FileNotFoundError:
            return out
        for e in top:
            if e.name in ("clips", BEDS) and e.is_dir(follow_symlinks=False):
                continue
            if e.name == MARKER and self.is_marked():
                continue
            if e.name == ".gitkeep" and e.is_file(follow_symlinks=False) and not e.stat().st_size:
                continue  # the empty placeholder that keeps a checkout's audio_cache/ in git
            if PART_NAME.match(e.name) and e.name.startswith(f".{MARKER}."):
                continue  # the marker being written by another process
            out.append(Path(e.path))
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            out += [Path(f.path) for f in sorted(os.scandir(self.root / BEDS), key=lambda e: e.name)
                    if not _ours_bed(f)]
        try:
            subs = sorted(os.scandir(self.clips), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return out
        for d in subs:
            if not (re.fullmatch(r"[0-9a-f]{2}", d.name) and d.is_dir(follow_symlinks=False)):
                out.append(Path(d.path))
                continue
            for f in sorted(os.scandir(d.path), key=lambda e: e.name):
                if not _ours(f, d.name):
                    out.append(Path(f.path))
        return out

    def claim(self) -> None:
        """Mark the folder as ours before the first write, or refuse a folder that never was.

        A missing or empty folder, or one holding nothing but clips (a cache of an earlier
        version, from before the marker), is marked; anything else is never written into.
        """
        with self._claim_lock:
            if self._claimed or self.is_marked():
                self._claimed = True
                return
            other = self.foreign()
            if other:
                raise NotACache(f"{self.root} is not a sisessions audio cache (it holds "
                                f"{_names(other, self.root)}, and no CACHEDIR.TAG of ours), so nothing is "
                                "written or removed there; choose another --cache-dir or SISESSIONS_CACHE")
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.root / MARKER, MARKER_TEXT)
            self._claimed = True

    # -- info and clear
    def beds(self) -> tuple[int, int]:
        """(converted beds, bytes): the audio files given to --bed, as the cache holds them."""
        n = size = 0
        with contextlib.suppress(OSError):
            for f in os.scandir(self.root / BEDS):
                if BED_ENTRY.match(f.name) and f.is_file(follow_symlinks=False):
                    with contextlib.suppress(OSError):
                        size += f.stat(follow_symlinks=False).st_size
                        n += f.name.endswith(".s16")
        return n, size

    def info(self) -> tuple[int, int]:
        """(clip entries, bytes)."""
        n = size = 0
        if self.clips.is_dir():
            for f in self.clips.glob("*/*.wav"):
                if ENTRY.match(f.name) and f.parent.name == f.name[:2]:
                    with contextlib.suppress(OSError):
                        size += f.stat().st_size
                        n += 1
        return n, size

    def clear(self) -> Cleared:
        """Remove every clip (and parts a killed run left); leave and report anything else."""
        if not self.root.exists():
            return Cleared(0, 0, ())
        self.claim()  # refuses a folder that was never a cache
        n = 0
        if self.clips.is_dir():
            for d in sorted(self.clips.iterdir()):
                if not (re.fullmatch(r"[0-9a-f]{2}", d.name) and d.is_dir() and not d.is_symlink()):
                    continue
                clean_stale_parts(d)
                for f in d.iterdir():
                    if ENTRY.match(f.name) and f.name[:2] == d.name and f.is_file() and not f.is_symlink():
                        with contextlib.suppress(FileNotFoundError):
                            f.unlink()
                            n += 1
                with contextlib.suppress(OSError):
                    d.rmdir()  # only when empty
            with contextlib.suppress(OSError):
                self.clips.rmdir()
        beds = 0
        folder = self.root / BEDS
        if folder.is_dir() and not folder.is_symlink():
            clean_stale_parts(folder)
            for f in folder.iterdir():
                if BED_ENTRY.match(f.name) and f.is_file() and not f.is_symlink():
                    with contextlib.suppress(FileNotFoundError):
                        f.unlink()
                        beds += 1
            with contextlib.suppress(OSError):
                folder.rmdir()
        return Cleared(n, beds, tuple(self.foreign()))


def _ours(f: os.DirEntry, sub: str) -> bool:
    if f.is_symlink():
        return False
    m = ENTRY.match(f.name)
    if m:
        return m[1][:2] == sub and f.is_file()
    # a temp file of atomic_path for an entry (being written, or left by a SIGKILL)
    return bool(PART_NAME.match(f.name)) and bool(ENTRY.match(f.name[1:].split(".wav.")[0] + ".wav"))


def _ours_bed(f: os.DirEntry) -> bool:
    if f.is_symlink():
        return False
    if BED_ENTRY.match(f.name):
        return f.is_file()
    return bool(PART_NAME.match(f.name)) and bool(BED_ENTRY.match(f.name[1:].rsplit(".", 2)[0]))


def _names(paths: list[Path], root: Path, most: int = 3) -> str:
    shown = [str(p.relative_to(root)) for p in paths[:most]]
    more = f" and {len(paths) - most} more" if len(paths) > most else ""
    return ", ".join(shown) + more


def describe_left(paths: tuple[Path, ...], root: Path) -> str:
    n = len(paths)
    what = "files that are not clips" if n != 1 else "file that is not a clip"
    return f"Left {n} {what}: {_names(list(paths), root, 5)}."


def clip_frames(path: Path) -> int | None:
    """Frames in a cached clip, or None when it is not a complete, intact clip in the internal
    format: the header, the size and the checksum in its name must all agree."""
    m = ENTRY.match(Path(path).name)
    if not m or not m[2]:
        return None  # no checksum (an entry of an earlier version): made again once
    try:
        data = Path(path).read_bytes()
        if len(data) <= HEADER:
            return None
        with wave.open(io.BytesIO(data), "rb") as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (CHANNELS, WIDTH, RATE):
                return None
            frames = w.getnframes()
    except (OSError, EOFError, wave.Error):
        return None
    if frames <= 0 or len(data) != HEADER + frames * WIDTH * CHANNELS:
        return None
    if checksum(data[HEADER:]) != m[2]:
        return None
    return frames
