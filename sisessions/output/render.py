"""Timeline + speech -> PCM chunks (s16le, RATE, mono); each cue starts at its planned frame."""
from __future__ import annotations

import wave
from typing import Iterator

from sisessions.audio import FRAME_BYTES, RATE
from sisessions.output.chime import chime_pcm
from sisessions.plan.timeline import Cue, Timeline
from sisessions.voice.speech import Speech

CHUNK_FRAMES = RATE // 2
_ZEROS = bytes(CHUNK_FRAMES * FRAME_BYTES)


def silence(frames: int) -> Iterator[bytes]:
    while frames > 0:
        n = min(frames, CHUNK_FRAMES)
        yield _ZEROS[: n * FRAME_BYTES]
        frames -= n


def cue_chunks(cue: Cue, speech: Speech) -> Iterator[bytes]:
    """Exactly cue.frames frames of audio for one cue."""
    if cue.kind == "pause":
        yield from silence(cue.frames)
    elif cue.kind == "chime":
        yield chime_pcm(cue.frames)
    else:
        path, _ = speech.get(cue.text)
        left = cue.frames
        with wave.open(str(path), "rb") as w:
            while left > 0:
                data = w.readframes(min(left, CHUNK_FRAMES))
                if not data:
                    break
                left -= len(data) // FRAME_BYTES
                yield data
        yield from silence(left)  # a clip remade since planning never shifts later cues


def render(timeline: Timeline, speech: Speech, start_cue: int = 0) -> Iterator[bytes]:
    for cue in timeline.cues[start_cue:]:
        yield from cue_chunks(cue, speech)
