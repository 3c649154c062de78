"""A soft bell made by the program: a few decaying partials, far below speech, no clicks."""
from __future__ import annotations

import cmath
import functools
import itertools
import math
import operator
from array import array

from sisessions.audio import RATE

FUNDAMENTAL = 432.0
# (frequency ratio, amplitude, decay time constant in seconds): a small, warm bell
PARTIALS = ((1.0, 1.0, 0.9), (2.0, 0.35, 0.55), (2.76, 0.25, 0.35), (5.40, 0.08, 0.18))
PEAK = 10 ** (-14 / 20)   # peak -14 dBFS, about -26 LUFS: 10 LU under speech (-16), still heard on a phone
ATTACK = 0.012            # a short raised-cosine attack so it never clicks
FADE = 0.25               # the tail is faded to exact zero at the end
_IMAG = operator.attrgetter("imag")


@functools.lru_cache(maxsize=4)
def chime_pcm(frames: int) -> bytes:
    """`frames` samples of bell, s16le mono at RATE, starting and ending at zero.

    Each partial a*exp(-t/d)*sin(2*pi*f*t) is the imaginary part of a*w**n for one complex
    w: itertools.accumulate makes the n powers in C, so the chime (the first sound of a
    session) is ready in a few milliseconds, without numpy on the start-up path."""
    if frames <= 0:
        return b""
    total = sum(a for _, a, _ in PARTIALS)
    scale = 32767 * PEAK / total
    mix = [0.0] * frames
    for ratio, amp, decay in PARTIALS:
        w = cmath.exp(complex(-1.0 / (decay * RATE), 2 * math.pi * FUNDAMENTAL * ratio / RATE))
        powers = itertools.accumulate(itertools.repeat(w, frames - 1), operator.mul, initial=complex(amp * scale))
        mix = list(map(operator.add, mix, map(_IMAG, powers)))
    attack, fade = min(int(ATTACK * RATE), frames), min(int(FADE * RATE), frames)
    for i in range(attack):  # a short raised-cosine attack: no click
        mix[i] *= 0.5 - 0.5 * math.cos(math.pi * i / attack)
    for k in range(fade):    # and the tail faded to exact zero
        mix[frames - fade + k] *= 0.5 + 0.5 * math.cos(math.pi * k / fade)
    out = array("h", map(round, mix))
    out[-1] = 0
    return out.tobytes()
