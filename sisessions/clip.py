"""What the engine gave -> one clip in the internal format: converted, trimmed, levelled."""
from __future__ import annotations

from pathlib import Path

from sisessions.audio import CHANNELS, RATE, WIDTH, ffmpeg_exe
from sisessions.errors import EngineError

# Bump when the processing below changes, so the cache never serves clips made the old way.
PROCESS_VERSION = 1
SILENCE_DBFS = -50.0
EDGE_MS = 40            # silence kept before and after the words
TARGET_DBFS = -20.0     # average level of speech
PEAK_DBFS = -1.5        # never louder than this


# pydub is imported inside the functions: the cache needs PROCESS_VERSION on every start,
# and a warm start must not pay for pydub (and audioop) when nothing is synthesized.


def load(path: Path):
    from pydub import AudioSegment

    AudioSegment.converter = ffmpeg_exe()
    try:
        seg = AudioSegment.from_file(str(path))
    except Exception as e:  # pydub raises several kinds for unreadable audio
        raise EngineError(f"the engine's audio could not be read ({type(e).__name__})") from e
    return seg.set_channels(CHANNELS).set_frame_rate(RATE).set_sample_width(WIDTH)


def trim(seg):
    from pydub.silence import detect_leading_silence

    start = detect_leading_silence(seg, SILENCE_DBFS, chunk_size=5)
    end = detect_leading_silence(seg.reverse(), SILENCE_DBFS, chunk_size=5)
    if start >= len(seg):
        raise EngineError("the engine produced only silence")
    return seg[max(0, start - EDGE_MS): len(seg) - max(0, end - EDGE_MS)]


def level(seg):
    seg = seg.apply_gain(TARGET_DBFS - seg.dBFS)
    if seg.max_dBFS > PEAK_DBFS:
        seg = seg.apply_gain(PEAK_DBFS - seg.max_dBFS)
    return seg


def process(path: Path) -> bytes:
    """Raw PCM frames (s16le, RATE, mono) of the engine's output file, ready to cache."""
    seg = load(path)
    if len(seg) == 0:
        raise EngineError("the engine produced empty audio")
    return level(trim(seg)).raw_data
