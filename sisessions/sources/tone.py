"""The acknowledgement of a spoken command: a short soft tone mixed into what the player pulls.

The tone goes through the same source the output reads (the feeder, wrapped), so it needs no
second audio device and is heard even while the session is paused. It is well below speech
(peak -26 dBFS; clips are levelled to -15.5 LUFS with peaks near -2 dBTP) and shaped by a
raised-cosine (Hann) envelope over its whole length, so it starts and ends at zero: no click.
"""
from __future__ import annotations

import functools
import math
import sys
import threading
from array import array

from sisessions.audio import FRAME_BYTES, RATE, Through

FREQUENCY = 587.3          # D5: clear to a resting ear without being sharp
SECONDS = 0.16
PEAK = 10 ** (-26 / 20)    # about 24 dB under a spoken line's peaks


@functools.lru_cache(maxsize=1)
def tone_samples() -> array:
    """The tone as int16 samples at RATE: a sine and a quiet octave under a Hann window."""
    n = int(SECONDS * RATE)
    out = array("h", bytes(2 * n))
    scale = 32767 * PEAK / 1.2
    for i in range(n):
        w = 0.5 - 0.5 * math.cos(2 * math.pi * i / (n - 1))
        t = i / RATE
        s = math.sin(2 * math.pi * FREQUENCY * t) + 0.2 * math.sin(4 * math.pi * FREQUENCY * t)
        out[i] = round(scale * w * s)
    return out


class ToneMix(Through):
    """A Source (play.device) that is the feeder plus any tone rung; read() never blocks.

    Only the pull backend (miniaudio, the default) calls read(); the simpleaudio backend plays
    the feeder's cues as whole buffers, so with it `ring` is silent (README says so). The rest
    of the Source protocol is the feeder's own (Through)."""

    def __init__(self, source):
        super().__init__(source)
        self._lock = threading.Lock()
        self._left = array("h")           # the part of the tone not yet handed to the output

    def ring(self, samples=None) -> None:
        """Mix the tone (or `samples`, int16 at RATE: a spoken question) from the next read on."""
        with self._lock:
            self._left = array("h", tone_samples() if samples is None else samples)

    @property
    def ringing(self) -> bool:
        return len(self._left) > 0

    def read(self, frames: int) -> bytes:
        data = self.source.read(frames)
        with self._lock:
            if not self._left:
                return data
            k = min(len(self._left), len(data) // FRAME_BYTES)
            head, self._left = self._left[:k], self._left[k:]
        mixed = array("h", data)
        swap = sys.byteorder == "big"   # the PCM is little-endian
        if swap:  # pragma: no cover
            mixed.byteswap()
        for i in range(k):
            mixed[i] = max(-32768, min(32767, mixed[i] + head[i]))
        if swap:  # pragma: no cover
            mixed.byteswap()
        return mixed.tobytes()
