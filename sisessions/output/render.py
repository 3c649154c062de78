"""Timeline + speech -> PCM chunks (s16le, RATE, mono); each cue starts at its planned frame,
with the bed (sources/bed.py) mixed in when one was asked for."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

from sisessions.audio import FRAME_BYTES, RATE
from sisessions.sources.chime import chime_pcm
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
        pcm = speech.samples(cue.text)  # a clip cleared from the cache since planning is made again
        end, step = min(len(pcm), cue.frames * FRAME_BYTES), CHUNK_FRAMES * FRAME_BYTES
        for at in range(0, end, step):
            yield pcm[at: min(at + step, end)]
        yield from silence(cue.frames - end // FRAME_BYTES)  # a clip remade since planning never shifts later cues


def cues_chunks(timeline: Timeline, cues: Sequence[Cue], speech: Speech, bed=None,
                origin: int | None = None) -> Iterator[bytes]:
    """The audio of consecutive cues of the timeline; with a bed (sources.bed.Bed) mixed in,
    placed by the cues' absolute frames, so a part of a split export meets the next seamlessly.
    The bed fades in from `origin` (default: the first of these cues)."""
    chunks = (chunk for cue in cues for chunk in cue_chunks(cue, speech))
    if bed is None or not cues:
        yield from chunks
        return
    from sisessions.sources.bed import under  # numpy only when a bed is asked for

    yield from under(chunks, bed, timeline.cues, timeline.frames, cues[0].start, speech.cache.root, origin)


def render(timeline: Timeline, speech: Speech, start_cue: int = 0, bed=None) -> Iterator[bytes]:
    yield from cues_chunks(timeline, timeline.cues[start_cue:], speech, bed)
