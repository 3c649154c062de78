"""Stream PCM chunks into ffmpeg's MP3 encoder, keep the file within the true-peak norm, tag
the result, and rename it into place."""
from __future__ import annotations

import math
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from sisessions.audio import CHANNELS, RATE, ffmpeg_exe
from sisessions.errors import AudioError
from sisessions.fileio import atomic_path, clean_stale_parts

DEFAULT_BITRATE = 64
# The spoken-word norm for a file's true peak (EBU R128 s1, AES TD1004). Clips are limited well
# below it (voice/clip.py), but the encoder's overshoot depends on everything encoded before a
# line, so the file itself is measured and, when over, encoded again this much quieter than
# the overshoot (one more encode is then enough; the loudness stays within the norm's +-1 LU).
NORM_DBTP = -1.0
AGAIN_MARGIN_DB = 0.3
# Measures that cut the file into windows differently disagree by a hundredth of a dB or so
# (towel: -2.46 here, -2.45 over 10 s windows): a file this close to the norm counts as over.
TOLERANCE_DB = 0.1
TRIES = 3
# Only stretches whose samples come within this of the norm are oversampled: a band-limited
# signal's peaks between samples lie within 3 dB of them (a full-scale sine at a quarter of
# the rate, sampled at 45 degrees), and the encoder's low-pass keeps it so; the rest of a
# session (silence, quiet words) is passed over, which makes the measure cheap.
SCREEN_DB = 6.0
Chunks = Callable[[], Iterable[bytes]]


def encode_mp3(chunks: Iterable[bytes], out: Path, bitrate: int = DEFAULT_BITRATE, gain_db: float = 0.0) -> None:
    """Encode raw s16le PCM to MP3 at `out` (overwritten) through one ffmpeg process."""
    gain = ["-af", f"volume={gain_db:.2f}dB"] if gain_db else []
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
           "-f", "s16le", "-ar", str(RATE), "-ac", str(CHANNELS), "-i", "pipe:0", *gain,
           "-codec:a", "libmp3lame", "-b:a", f"{bitrate}k", "-ac", "1", "-f", "mp3", str(out)]
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True)  # Ctrl-C is ours to handle
        except OSError as e:
            raise AudioError(f"could not start ffmpeg ({e.strerror or e})") from e
        try:
            for chunk in chunks:
                proc.stdin.write(chunk)
            proc.stdin.close()
            code = proc.wait()
        except BrokenPipeError:
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        if code != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            reason = lines[-1] if lines else f"ffmpeg exit {code}"
            raise AudioError(f"could not write the MP3: {reason}")


def true_peak_db(path: Path, screen_db: float = SCREEN_DB) -> float:
    """The file's true peak (dBTP, BS.1770 4x oversampling, voice/loudness.py), decoded by ffmpeg
    as float so an overshoot above full scale stays visible; read 10 s at a time.

    Exact wherever the samples come within `screen_db` of the norm; a file that never does
    gives its sample peak, which is then below the norm by more than the screen.
    """
    import numpy as np

    from sisessions.voice import loudness

    block, pad, floor = 2048, 128, 10 ** ((NORM_DBTP - screen_db) / 20)
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(path),
           "-f", "f32le", "-ac", "1", "-ar", str(RATE), "pipe:1"]
    best, carry = 0.0, np.zeros(0)
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
        try:
            while raw := proc.stdout.read(RATE * 10 * 4):
                x = np.concatenate((carry, np.frombuffer(raw[: len(raw) // 4 * 4], "<f4").astype(np.float64)))
                n = -(-len(x) // block)
                peaks = np.pad(np.abs(x), (0, n * block - len(x))).reshape(n, block).max(axis=1)
                best = max(best, float(peaks.max()))
                # the loud stretches, with context either side: those inside x in one batch
                starts = np.nonzero(peaks > floor)[0] * block
                inside = (starts >= pad) & (starts + block + pad <= len(x))
                if inside.any():
                    rows = x[(starts[inside] - pad)[:, None] + np.arange(block + 2 * pad)]
                    best = max(best, float(loudness.peak_rows(rows).max()))
                for s in starts[~inside]:
                    best = max(best, 10 ** (loudness.true_peak(x[max(0, s - pad): s + block + pad]) / 20))
                carry = x[-2 * pad:]  # the next read sees these again, with what follows them
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            raise AudioError(f"could not read the MP3 back: {lines[-1] if lines else f'ffmpeg exit {code}'}")
    return 20 * math.log10(best) if best > 0 else -math.inf


def encode_within_norm(chunks: Chunks, out: Path, bitrate: int = DEFAULT_BITRATE) -> float:
    """Encode, measure the encoded file's true peak, and while it is over the norm encode again
    a little quieter (the audio made anew by `chunks()`, never the MP3 decoded and encoded a
    second time). Returns the gain applied in dB (0 for nearly every session)."""
    gain = 0.0
    for _ in range(TRIES):
        encode_mp3(chunks(), out, bitrate, gain)
        over = true_peak_db(out) - (NORM_DBTP - TOLERANCE_DB)
        if over <= 0:
            break
        gain -= over + AGAIN_MARGIN_DB
    return gain


def write_mp3(chunks: Chunks, target: Path, bitrate: int = DEFAULT_BITRATE,
              tag: Callable[[Path], None] | None = None) -> None:
    """The MP3 appears at `target` only when encoded within the norm and tagged completely.
    `chunks()` gives the PCM from the start each time it is called."""
    clean_stale_parts(Path(target).parent)  # what a SIGKILLed export left, never to be synced
    with atomic_path(target, suffix=".mp3") as tmp:
        encode_within_norm(chunks, tmp, bitrate)
        if tag is not None:
            tag(tmp)
