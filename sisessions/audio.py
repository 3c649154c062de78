"""The one audio format inside (22050 Hz, mono, 16-bit) and where ffmpeg comes from."""
from __future__ import annotations

import functools
import shutil

RATE = 22050
WIDTH = 2
CHANNELS = 1
FRAME_BYTES = WIDTH * CHANNELS
FORMAT_ID = f"s16le-{RATE}-{CHANNELS}"


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
