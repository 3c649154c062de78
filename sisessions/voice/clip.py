"""What the engine gave -> one clip in the internal format: phrases trimmed, paced, levelled.

A line is synthesized phrase by phrase (phrasing.py); here each phrase is converted to the
internal format and trimmed, the phrases are joined by silences sized so the clip lasts
words / rate, and the clip is levelled to one loudness (-15.5 LUFS, true peak <= -4 dBTP) so
that every engine, every voice and every line sound equally loud.
"""
from __future__ import annotations

from pathlib import Path

from sisessions.audio import CHANNELS, RATE, WIDTH, ffmpeg_exe
from sisessions.errors import EngineError

# Bump when the processing below changes, so the cache never serves clips made the old way.
PROCESS_VERSION = 6
SILENCE_DB = -50.0      # below the phrase's loudest 5 ms by this much counts as silence
EDGE_S = 0.040          # silence kept before and after the words of each phrase
# Every clip alike at -15.5 LUFS puts a whole session at the spoken-word norm of -16 LUFS
# (EBU R128 for podcasts): the gated measure of a session also takes in the quieter edges
# of phrases, which costs ~0.5 LU (towel, measured: -16.5 with clips at -16.0).
TARGET_LUFS = -15.5
# True peak of a clip. The MP3 encoder overshoots it, by an amount that depends on the whole
# file encoded before a line (the same clip measured -2.3 or -1.2 dBTP in an MP3 depending on
# where its encoding began) and most on a short peaky line the limiter flattened at the
# ceiling (espeak's "Breathe in." at -3 dBTP came out at -1.35 dBTP in `unlock`: 1.65 dB).
# So 3 dB below the spoken-word norm's -1 dBTP (tests/test_export.py measures every built-in
# session's MP3).
CEILING_DBTP = -4.0

# pydub and numpy are imported inside the functions: the cache needs PROCESS_VERSION on every
# start, and a warm start must not pay for them when nothing is synthesized.


def _pydub():
    """pydub's AudioSegment, pointed at our ffmpeg.

    pydub looks for a program named `ffmpeg` on PATH as it is imported and warns when there is
    none; the one imageio-ffmpeg bundles has another name, so on a machine without a system
    ffmpeg every synthesis printed "Couldn't find ffmpeg or avconv" although the very next line
    gives pydub the bundled one. That warning alone is silenced (a filter, not a
    catch_warnings block: voice threads may import this at the same time).
    """
    import warnings

    warnings.filterwarnings("ignore", message="Couldn't find ffmpeg or avconv", category=RuntimeWarning)
    from pydub import AudioSegment

    AudioSegment.converter = ffmpeg_exe()
    return AudioSegment


def load(path: Path):
    """The engine's file as float samples in [-1, 1] at the internal rate, mono."""
    import numpy as np

    AudioSegment = _pydub()
    try:
        seg = AudioSegment.from_file(str(path))
    except Exception as e:  # pydub raises several kinds for unreadable audio
        raise EngineError(f"the engine's audio could not be read ({type(e).__name__})") from e
    seg = seg.set_channels(CHANNELS).set_frame_rate(RATE).set_sample_width(WIDTH)
    return np.frombuffer(seg.raw_data, dtype="<i2").astype(np.float64) / 32768.0


def trim(x):
    """The words of a phrase with EDGE_S of silence either side (5 ms windows, as pydub)."""
    import numpy as np

    win = int(0.005 * RATE)
    n = len(x) // win
    if n == 0:
        raise EngineError("the engine produced empty audio")
    rms = np.sqrt((x[: n * win].reshape(n, win) ** 2).mean(axis=1))
    if rms.max() <= 1e-5:
        raise EngineError("the engine produced only silence")
    loud = np.nonzero(rms > rms.max() * 10 ** (SILENCE_DB / 20))[0]
    edge = int(EDGE_S * RATE)
    start = max(0, loud[0] * win - edge)
    end = min(len(x), (loud[-1] + 1) * win + edge)
    return x[start:end]


def assemble(paths: list[Path], phrases, wpm: int) -> bytes:
    """Raw PCM (s16le, RATE, mono) of one line from its phrases' files, ready to cache."""
    import numpy as np

    from sisessions.voice import loudness, phrasing

    parts = [trim(load(p)) for p in paths]
    speech = sum(len(p) for p in parts) / RATE
    text = " ".join(ph.text for ph in phrases)
    gaps = phrasing.gaps(tuple(phrases), speech, phrasing.target_seconds(text, wpm))
    pieces = []
    for part, gap in zip(parts, gaps):
        pieces += [part, np.zeros(int(round(gap * RATE)))]
    x = loudness.normalize(np.concatenate(pieces), RATE, TARGET_LUFS, CEILING_DBTP)
    return (np.clip(np.round(x * 32768.0), -32768, 32767)).astype("<i2").tobytes()
