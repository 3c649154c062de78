"""Stream PCM chunks into a WAV file, written atomically."""
from __future__ import annotations

import wave
from pathlib import Path
from typing import Iterable

from sisessions.audio import CHANNELS, RATE, WIDTH
from sisessions.fileio import atomic_path, clean_stale_parts


def write_wav(chunks: Iterable[bytes], target: Path) -> None:
    clean_stale_parts(Path(target).parent)  # what a SIGKILLed export left
    with atomic_path(target) as tmp:
        with wave.open(str(tmp), "wb") as w:
            w.setnchannels(CHANNELS)
            w.setsampwidth(WIDTH)
            w.setframerate(RATE)
            for chunk in chunks:
                w.writeframesraw(chunk)
