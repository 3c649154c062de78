"""Content-addressed speech clips on disk: key = engine, version, voice, settings, text, format."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import wave
from pathlib import Path

from sisessions.audio import CHANNELS, FORMAT_ID, RATE, WIDTH
from sisessions.fileio import atomic_path
from sisessions.voice.clip import PROCESS_VERSION
from sisessions.voice.engines.base import SpeechSettings

HEADER = 44  # the wave module always writes a 44-byte header for PCM


class Cache:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.clips = self.root / "clips"

    @staticmethod
    def key(settings: SpeechSettings, text: str) -> str:
        fields = {"settings": settings.key_fields(), "text": text, "format": FORMAT_ID,
                  "process": PROCESS_VERSION}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.clips / key[:2] / f"{key}.wav"

    def get(self, key: str) -> tuple[Path, int] | None:
        """(path, frames) of a sound entry; a missing, empty, truncated or foreign file is a miss."""
        p = self.path(key)
        frames = clip_frames(p)
        return None if frames is None else (p, frames)

    def put(self, key: str, pcm: bytes) -> tuple[Path, int]:
        p = self.path(key)
        with atomic_path(p) as tmp:
            with wave.open(str(tmp), "wb") as w:
                w.setnchannels(CHANNELS)
                w.setsampwidth(WIDTH)
                w.setframerate(RATE)
                w.writeframes(pcm)
        return p, len(pcm) // WIDTH

    def info(self) -> tuple[int, int]:
        """(entries, bytes)."""
        n = size = 0
        if self.clips.is_dir():
            for f in self.clips.glob("*/*.wav"):
                with contextlib.suppress(OSError):
                    size += f.stat().st_size
                    n += 1
        return n, size

    def clear(self) -> int:
        n, _ = self.info()
        if self.clips.is_dir():
            shutil.rmtree(self.clips)
        return n


def clip_frames(path: Path) -> int | None:
    """Frames in a cached clip, or None when it is not a complete clip in the internal format."""
    try:
        size = os.path.getsize(path)
        if size <= HEADER:
            return None
        with wave.open(str(path), "rb") as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (CHANNELS, WIDTH, RATE):
                return None
            frames = w.getnframes()
    except (OSError, EOFError, wave.Error):
        return None
    return frames if frames > 0 and size == HEADER + frames * WIDTH * CHANNELS else None
