"""A quiet bed under a whole session (brown noise, a breathing drone or your audio file): looped
seamlessly, faded in and out, dipped under speech, and mixed into the PCM stream chunk by chunk.

On a phone with the screen off, twenty seconds of digital silence sound like a player that
stopped; a bed far below the voice says "still running" without covering a word.
"""
from __future__ import annotations

import abc
import bisect
import functools
import hashlib
import json
import math
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sisessions.audio import FORMAT_ID, RATE, WIDTH, ffmpeg_exe
from sisessions.errors import AudioError, OptionError, UsageError
from sisessions.fileio import atomic_path, atomic_write_text
from sisessions.script.model import BUILTIN_BEDS, NO_BED

LEVEL = -45.0             # dBFS RMS in the silences: under a phone's hiss at low volume, yet there
# Under speech the bed fades out completely, so every line is exactly the voice alone. A dip of
# 15 dB (then 35 dB) was tried first: even at -80 dBFS under the voice, noise where the clip had
# digital silence raised the offline recogniser's WER by 0.05-0.11 (benchmarks/bed.py).
DUCK = 0.0                # the bed's gain under speech
DUCK_DOWN = 0.40          # seconds: it is gone when the first word starts
DUCK_UP = 1.00            # seconds: and comes back slowly after the last word, never a pump
FADE_IN = 6.0             # seconds over the opening (the chime and the first lines)
FADE_OUT = 6.0            # seconds to exact zero at the session's last frame
LOOP_SECONDS = 30         # the built-in beds: one loop, made once per process
XFADE = 2.0               # seconds of crossfade at a file's loop point
MIN_FILE_SECONDS = 2.0
BED_VERSION = 2           # bump when the conversion below changes: the cache makes them again
BED_KEY = re.compile(r"^[0-9a-f]{32}$")  # the cache's beds/ entries: KEY.s16 and KEY.json
MAX_SECONDS = 3 * 3600    # a session lasts at most 3 hours (SPEC §2): more of a file never plays


@dataclass(frozen=True)
class Bed:
    """What was asked for: a built-in name or an audio file, and the level in the silences."""

    spec: str
    level: float = LEVEL

    @property
    def label(self) -> str:
        return self.spec if self.spec in BUILTIN_BEDS else Path(self.spec).name


def choose(spec: str | None, level: float | None = None, base: Path | None = None) -> Bed | None:
    """The bed for `--bed SPEC` (None or `off`: none), checked before any audio is made."""
    if spec is None or spec == NO_BED:
        return None
    level = LEVEL if level is None else float(level)
    if not math.isfinite(level):
        raise OptionError("bed-level", "--bed-level must be a number of dBFS, such as -45")
    if spec in BUILTIN_BEDS:
        return Bed(spec, level)
    f = (Path(base or ".") / Path(spec).expanduser()).resolve()
    if not f.is_file():
        raise OptionError("bed", f"--bed {spec}: not a built-in bed ({', '.join(BUILTIN_BEDS)}) "
                         "and no such audio file")
    return Bed(str(f), level)


# ---------------------------------------------------------------- the sounds, as loops


class Loop(abc.ABC):
    """Samples of a loop at any absolute frame (position mod length), RMS 1.0, as floats."""

    length: int

    @abc.abstractmethod
    def read(self, start: int, n: int) -> np.ndarray:
        """`n` samples from absolute frame `start`, wrapping round the loop."""

    def close(self) -> None:
        pass


class ArrayLoop(Loop):
    """A loop in memory; `scale` turns stored int16 samples into RMS 1.0 (a file for play)."""

    def __init__(self, samples: np.ndarray, scale: float | None = None):
        self.samples, self.length, self.scale = samples, len(samples), scale

    def read(self, start: int, n: int) -> np.ndarray:
        pos = start % self.length
        if pos + n <= self.length:  # the usual case: one slice, no copy
            out = self.samples[pos:pos + n]
        else:
            parts, done = [], 0
            while done < n:
                k = min(n - done, self.length - pos)
                parts.append(self.samples[pos:pos + k])
                done, pos = done + k, 0
            out = np.concatenate(parts)
        return out if self.scale is None else out * self.scale


class FileLoop(Loop):
    """A converted file read a chunk at a time: a long bed never sits in memory."""

    def __init__(self, raw: Path, rms: float):
        self.f = open(raw, "rb")  # noqa: SIM115 - held for the whole mix, closed by close()
        self.length = raw.stat().st_size // WIDTH
        self.scale = 1.0 / (32768.0 * rms)

    def read(self, start: int, n: int) -> np.ndarray:
        out, pos, done = np.empty(n), start % self.length, 0
        while done < n:
            k = min(n - done, self.length - pos)
            self.f.seek(pos * WIDTH)
            out[done:done + k] = np.frombuffer(self.f.read(k * WIDTH), "<i2")
            done, pos = done + k, (pos + k) % self.length
        return out * self.scale

    def close(self) -> None:
        self.f.close()


def _unit_rms(x: np.ndarray) -> np.ndarray:
    return (x / math.sqrt(float(np.mean(x * x)))).astype(np.float32)


@functools.lru_cache(maxsize=2)
def builtin(name: str) -> np.ndarray:
    """One loop of a built-in bed; both are periodic by construction, so they loop without a seam."""
    n = LOOP_SECONDS * RATE
    if name == "brown":
        # Noise made in the frequency domain is exactly periodic. Amplitude 1/f is brown noise
        # (-6 dB an octave, a soft rumble like distant surf); below 40 Hz (which a phone cannot
        # play and which would only eat headroom) and above 4 kHz (hiss) it is rolled off.
        f = np.fft.rfftfreq(n, 1.0 / RATE)
        rng = np.random.default_rng(20240615)
        amp = 1.0 / np.maximum(f, 1.0)
        amp *= 1.0 / (1.0 + (40.0 / np.maximum(f, 1e-9)) ** 4) / (1.0 + (f / 4000.0) ** 2)
        amp[0] = 0.0
        spec = amp * np.exp(2j * np.pi * rng.random(len(f)))
        return _unit_rms(np.fft.irfft(spec, n))
    if name == "drone":
        # A low A with its fifth and octave, one partner a third of a hertz sharp for a slow
        # shimmer, swelling and settling once every 10 s like a slow breath. Every frequency is
        # a whole number of cycles in the loop, so its end meets its start exactly.
        t = np.arange(n) / RATE
        tones = ((110.0, 1.0), (110.0 + 1 / 3, 0.6), (165.0, 0.35), (220.0, 0.25), (330.0, 0.08))
        x = sum(a * np.sin(2 * np.pi * f * t) for f, a in tones)
        breath = 0.55 + 0.45 * np.sin(np.pi * t / 10.0) ** 2
        return _unit_rms(x * breath)
    raise UsageError(f"no built-in bed called {name!r}")  # pragma: no cover - checked by choose()


def converted(path: Path, cache_root: Path) -> tuple[Path, float]:
    """(raw file, its RMS) of an audio file in the internal format with its loop point
    crossfaded, made once and cached under the audio cache's `beds/`.

    One conversion per file: its entry is named by the file's path, and an edit of the file
    (another size or time) converts it again over that same entry. At most MAX_SECONDS are
    converted (a ten-hour recording would otherwise fill gigabytes that never play), and a
    file refused (unreadable, too short, silent) leaves nothing behind.
    """
    st = path.stat()
    key = hashlib.sha256(json.dumps([str(path), FORMAT_ID, BED_VERSION]).encode()).hexdigest()[:32]
    source = [st.st_size, st.st_mtime_ns]
    folder = Path(cache_root) / "beds"
    raw, meta = folder / f"{key}.s16", folder / f"{key}.json"
    try:
        m = json.loads(meta.read_text(encoding="utf-8"))
        rms = float(m["rms"])
        if raw.stat().st_size == m["bytes"] and rms > 0 and m.get("of") == source:
            return raw, rms
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not made yet, edited since, or damaged: make it again
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(raw) as tmp:
        cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(path),
               "-vn", "-t", str(MAX_SECONDS), "-f", "s16le", "-acodec", "pcm_s16le", "-ar", str(RATE), "-ac", "1",
               str(tmp)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as e:
            raise AudioError(f"could not start ffmpeg ({e.strerror or e})") from e
        size = tmp.stat().st_size if tmp.exists() else 0
        if proc.returncode != 0 or size < MIN_FILE_SECONDS * RATE * WIDTH:
            raise OptionError("bed", f"--bed {path}: ffmpeg cannot read it as audio of at least "
                             f"{MIN_FILE_SECONDS:g} seconds")
        rms = _crossfade_loop(tmp)
        if rms <= 0:  # inside the block: the conversion is not kept
            raise OptionError("bed", f"--bed {path}: the file is silent")
    atomic_write_text(meta, json.dumps({"source": str(path), "of": source, "rms": rms,
                                        "bytes": raw.stat().st_size}) + "\n")
    _drop_others(folder, key, str(path))
    return raw, rms


def _drop_others(folder: Path, key: str, source: str) -> None:
    """Remove the conversions of the same file under other keys (an earlier BED_VERSION)."""
    for m in folder.glob("*.json"):
        if m.stem == key or not BED_KEY.match(m.stem):
            continue
        try:
            if json.loads(m.read_text(encoding="utf-8")).get("source") != source:
                continue
        except (OSError, ValueError, AttributeError):
            continue
        for f in (m.with_suffix(".s16"), m):
            f.unlink(missing_ok=True)


def _crossfade_loop(raw: Path) -> float:
    """Fold the last XFADE seconds over the first ones (equal power) and cut them off, so the
    loop's end runs into its start without a click or a gap; returns the RMS, read in blocks."""
    n = raw.stat().st_size // WIDTH
    c = min(int(XFADE * RATE), n // 4)
    with open(raw, "r+b") as f:
        head = np.frombuffer(f.read(c * WIDTH), "<i2").astype(np.float64)
        f.seek((n - c) * WIDTH)
        tail = np.frombuffer(f.read(c * WIDTH), "<i2").astype(np.float64)
        w = np.linspace(0.0, math.pi / 2, c)
        # The loop is x[c:n-c] then (tail fading out + head fading in): after it comes x[c] again.
        mixed = tail * np.cos(w) + head * np.sin(w)
        f.seek((n - c) * WIDTH)
        f.write(np.clip(np.round(mixed), -32768, 32767).astype("<i2").tobytes())
        # move the body down over the head, block by block, then cut the file
        block, src, dst = 1 << 18, c, 0
        total = 0.0
        while src < n:
            f.seek(src * WIDTH)
            data = f.read(min(block, n - src) * WIDTH)
            f.seek(dst * WIDTH)
            f.write(data)
            x = np.frombuffer(data, "<i2").astype(np.float64)
            total += float(np.dot(x, x))
            k = len(data) // WIDTH
            src, dst = src + k, dst + k
        f.truncate(dst * WIDTH)
    return math.sqrt(total / max(1, n - c)) / 32768.0


def open_loop(bed: Bed, cache_root: Path, in_memory: bool = False) -> Loop:
    """The bed's loop; `in_memory` for a live player, whose audio thread must never wait on a
    disk (a converted file then costs 2.6 MB a minute, as int16)."""
    if bed.spec in BUILTIN_BEDS:
        return ArrayLoop(builtin(bed.spec))
    raw, rms = converted(Path(bed.spec), cache_root)
    if in_memory:
        return ArrayLoop(np.fromfile(raw, "<i2"), 1.0 / (32768.0 * rms))
    return FileLoop(raw, rms)


# ---------------------------------------------------------------- mixing


class Mixer:
    """The bed's gain at every frame of a timeline: the level, the fades and the dips."""

    def __init__(self, bed: Bed, loop: Loop, speech: list[tuple[int, int]], total: int, start: int = 0,
                 origin: int | None = None):
        # `origin`: where the fade-in starts (the session's start, or where play began)
        self.loop, self.start = loop, start
        self.level = 10 ** (bed.level / 20)
        self.duck = DUCK
        self.reshape(speech, total, start if origin is None else origin)
        self.down, self.up = int(DUCK_DOWN * RATE), int(DUCK_UP * RATE)
        self.fade_in, self.fade_out = int(FADE_IN * RATE), int(FADE_OUT * RATE)

    def reshape(self, speech: list[tuple[int, int]], total: int, origin: int) -> None:
        """The lines, the end and the fade-in's start as now known; a live player (play/bed.py)
        calls this for every chunk, since it learns lengths and the end as it goes."""
        self.spans = speech                 # (start, end) frames of speech, in order, apart
        self.ends = [e for _, e in speech]
        self.total, self.origin = total, origin

    def gain(self, a: int, n: int) -> np.ndarray | float:
        """The bed's gain over frames a..a+n: an array, or one number when it is constant
        (most chunks: inside a silence, or under a line), which spares a 90-minute mix most
        of its arithmetic."""
        t = np.arange(a, a + n, dtype=np.float64)
        if a >= self.origin + self.fade_in and a + n <= self.total - 1 - self.fade_out:
            fade = 1.0
        else:
            fade = np.minimum(np.clip((t - self.origin) / self.fade_in, 0, 1),
                              np.clip((self.total - 1 - t) / self.fade_out, 0, 1))
            fade = 0.5 - 0.5 * np.cos(np.pi * fade)   # raised cosine: no corner at either end
        dip = 0.0
        i = bisect.bisect_right(self.ends, a - self.up)
        while i < len(self.spans) and self.spans[i][0] - self.down < a + n:
            s, e = self.spans[i]
            if s <= a and a + n <= e:  # wholly under a line
                return 0.0 if self.duck == 0.0 else self.level * self.duck * fade
            d = np.minimum((t - (s - self.down)) / self.down, ((e + self.up) - t) / self.up)
            dip = np.maximum(dip, np.clip(d, 0, 1))
            i += 1
        if not isinstance(dip, float):
            dip = 0.5 - 0.5 * np.cos(np.pi * dip)
        return self.level * fade * (1.0 - dip * (1.0 - self.duck))

    def mix(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        pos = self.start
        for chunk in chunks:
            x = np.frombuffer(chunk, "<i2")
            n = len(x)
            if n == 0:
                continue
            g = self.gain(pos, n)
            if isinstance(g, float) and g == 0.0:
                yield chunk  # under a line, or past the end: the voice alone, untouched
            else:
                yield add(x, self.loop.read(pos, n), g)
            pos += n


def add(x: np.ndarray, bed: np.ndarray, g: np.ndarray | float) -> bytes:
    """int16 samples `x` with the unit-RMS `bed` mixed in at gain `g`, as int16 PCM."""
    y = x + bed * (g * 32768.0)
    return np.clip(np.round(y), -32768, 32767).astype("<i2").tobytes()


def speech_spans(cues) -> list[tuple[int, int]]:
    return [(c.start, c.end) for c in cues if c.kind == "say"]


def under(chunks: Iterable[bytes], bed: Bed, cues, total: int, start: int, cache_root: Path,
          origin: int | None = None) -> Iterator[bytes]:
    """`chunks` (starting at frame `start` of a session of `total` frames) with the bed mixed in;
    it fades in from `origin` (default `start`)."""
    loop = open_loop(bed, cache_root)
    try:
        yield from Mixer(bed, loop, speech_spans(cues), total, start, origin).mix(chunks)
    finally:
        loop.close()
