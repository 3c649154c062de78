"""The one audio format inside (22050 Hz, mono, 16-bit), a source that hands another on, and where
ffmpeg comes from."""
from __future__ import annotations

import functools
import shutil

RATE = 22050
WIDTH = 2
CHANNELS = 1
FRAME_BYTES = WIDTH * CHANNELS
FORMAT_ID = f"s16le-{RATE}-{CHANNELS}"


class Through:
    """A Source (play.device) that hands on what `source` gives: the base of one that changes a
    part of it (play.feeder.Relay: the gain and the switch of parts; sources.tone.ToneMix: a tone)."""

    def __init__(self, source):
        self.source = source

    def read(self, frames: int) -> bytes:
        return self.source.read(frames)

    def sound_ahead(self):
        return self.source.sound_ahead()

    def advance(self, frames: int, hold: int | None = None) -> int:
        return self.source.advance(frames, hold)

    @property
    def generation(self) -> int:
        return self.source.generation


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """A system ffmpeg when on PATH, else the one imageio-ffmpeg ships (with libmp3lame)."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a declared dependency
        from sisessions.errors import AudioError

        raise AudioError("ffmpeg is missing: install it (apt-get install ffmpeg) or `pip install imageio-ffmpeg`")
    return imageio_ffmpeg.get_ffmpeg_exe()
