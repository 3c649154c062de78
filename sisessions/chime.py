"""A soft bell made by the program: a few decaying partials, far below speech, no clicks."""
from __future__ import annotations

import functools
import math
from array import array

from sisessions.audio import RATE

FUNDAMENTAL = 432.0
# (frequency ratio, amplitude, decay time constant in seconds): a small, warm bell
PARTIALS = ((1.0, 1.0, 0.9), (2.0, 0.35, 0.55), (2.76, 0.25, 0.35), (5.40, 0.08, 0.18))
PEAK = 10 ** (-14 / 20)   # peak -14 dBFS, about -26 LUFS: 10 LU under speech (-16), still heard on a phone
ATTACK = 0.012            # a short raised-cosine attack so it never clicks
FADE = 0.25               # the tail is faded to exact zero at the end


@functools.lru_cache(maxsize=4)
def chime_pcm(frames: int) -> bytes:
    """`frames` samples of bell, s16le mono at RATE, starting and ending at zero."""
    total = sum(a for _, a, _ in PARTIALS)
    attack, fade = int(ATTACK * RATE), int(FADE * RATE)
    out = array("h", bytes(2 * frames))
    for i in range(frames):
        t = i / RATE
        v = sum(a * math.exp(-t / d) * math.sin(2 * math.pi * FUNDAMENTAL * r * t) for r, a, d in PARTIALS)
        env = 1.0
        if i < attack:
            env = 0.5 - 0.5 * math.cos(math.pi * i / attack)
        elif i >= frames - fade:
            env = 0.5 + 0.5 * math.cos(math.pi * (i - (frames - fade)) / fade)
        out[i] = int(round(32767 * PEAK * env * v / total))
    if frames:
        out[-1] = 0
    return out.tobytes()
