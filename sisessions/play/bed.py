"""The bed under a live play: sources/bed.py's level, fades and dips under lines, placed by the
session position the feeder is at, with the lines' lengths as they become known.

The feeder calls mix() from the audio thread with the chunk it made and where each stretch of
it lies in the session; everything here is a few numpy operations on that chunk (the loop is
in memory), so read() never waits. On a warm cache every length is known, the positions are
the plan's, and the bed is the one `export --bed` puts in the file, sample for sample.
"""
from __future__ import annotations

import bisect
from pathlib import Path

import numpy as np

from sisessions.audio import FRAME_BYTES, RATE
from sisessions.sources import bed as beds
from sisessions.play.program import Program

# A jump in the bed's gain (a pause, a jump, a line's length learnt late) is spread over 10 ms,
# the feeder's own fade on cuts: at -45 dBFS that is no click.
RAMP = RATE // 100


class LiveBed:
    """The bed's state across chunks. Called only under the feeder's lock."""

    def __init__(self, bed: beds.Bed, loop: beds.Loop, program: Program):
        self.p = program
        self.loop = loop
        self.mixer = beds.Mixer(bed, loop, [], program.total)
        self.eps = self.mixer.level * 0.01     # smaller steps than this are the curve itself
        self.origin: int | None = None         # where the fade-in starts: set at the first frame
        self.last = 0.0                        # the gain of the last frame given out
        self.phase = 0                         # the loop position after the last frame
        self._ramp = (0.0, 0)                  # (offset still to remove, over so many frames)
        self._tail: tuple[int, float, int] | None = None  # (phase, gain, frames done) after a cut

    @classmethod
    def open(cls, bed: beds.Bed, cache_root: Path, program: Program) -> LiveBed:
        return cls(bed, beds.open_loop(bed, cache_root, in_memory=True), program)

    def close(self) -> None:
        self.loop.close()

    # -- what the controls change (under the feeder's lock)
    def cut(self) -> None:
        """Pause, jump or stop: the bed heard so far fades out over RAMP frames where it was."""
        if self.last > 0.0:
            self._tail = (self.phase, self.last, 0)
        self.last, self._ramp = 0.0, (0.0, 0)

    def resume(self) -> None:
        """After a pause the bed fades in again from where the session goes on, as at its start."""
        self.origin = None

    def seek(self, pos: int | None, paused: bool) -> None:
        """A jump to session position `pos` (None: the pre-roll). Playing on, the bed stays at
        the level it had reached (the opening fade goes on where it was); a paused session
        fades it in again."""
        self.cut()
        if paused or pos is None or self.origin is None:
            self.origin = None
        else:
            done = min(max(self.phase - self.origin, 0), self.mixer.fade_in)
            self.origin = pos - done

    # -- the audio thread's side
    def _spans(self, a: int, n: int) -> list[tuple[int, int]]:
        """The lines near frames a..a+n (from DUCK_UP before to DUCK_DOWN after), placed by the
        lengths known now (a line not voiced yet has its guessed length)."""
        p, m = self.p, self.mixer
        lo, hi = a - m.up, a + n + m.down
        order = range(p.first, len(p.events))
        i = max(bisect.bisect_right(order, lo, key=lambda j: p.position(j, 0)) - 1, 0) + p.first
        out = []
        while i < len(p.events):
            s = p.position(i, 0)
            if s >= hi:
                break
            if p.events[i].kind == "say" and s + p.lengths[i] > lo:
                out.append((s, s + p.lengths[i]))
            i += 1
        return out

    def mix(self, out: bytearray, segments: list[tuple[int, int, int | None]]) -> bytes:
        """`out` (the feeder's chunk) with the bed; `segments` are (first frame in out, frames,
        session position or None for silence that is not the session's: pre-roll, a pause, a
        wait for the voice, the end). The end used for the fade-out is the program's total as
        known now: exact on a warm cache; on a cold one it is exact once the last line has its
        clip (the feeder enters a line only with it), so the fade over the closing silence or
        chime still reaches zero at the last frame, and a length learnt late while the fade is
        under way is a small step that the ramp below smooths."""
        n = len(out) // FRAME_BYTES
        if n == 0:
            return bytes(out)
        g = np.zeros(n)
        b = np.zeros(n)
        total = self.p.total
        for o, k, pos in segments:
            if pos is None or k <= 0:
                continue
            if self.origin is None:
                self.origin = pos
            self.mixer.reshape(self._spans(pos, k), total, self.origin)
            gk = self.mixer.gain(pos, k)
            if isinstance(gk, float) and gk == 0.0:
                continue
            g[o:o + k] = gk
            b[o:o + k] = self.loop.read(pos, k)
            self.phase = pos + k
        self._smooth(g)
        if self._tail is not None:
            b = self._add_tail(b, g)
        elif not g.any():
            return bytes(out)  # under a line, paused, or past the end: the voice alone, untouched
        return beds.add(np.frombuffer(out, "<i2"), b, g)

    def _smooth(self, g: np.ndarray) -> None:
        """Make a jump at the chunk's start a 10 ms ramp from the last frame's gain."""
        value, left = self._ramp
        if abs(g[0] + value - self.last) > self.eps:
            value, left = self.last - g[0], RAMP
        if left > 0:
            k = min(left, len(g))
            g[:k] += value * (1.0 - np.arange(1, k + 1) / left)
            value, left = (value * (left - k) / left, left - k) if left > k else (0.0, 0)
            np.maximum(g, 0.0, out=g)
        self._ramp = (value, left)
        self.last = float(g[-1])

    def _add_tail(self, b: np.ndarray, g: np.ndarray) -> np.ndarray:
        """The bed from before a cut, going on at its old phase and fading out over RAMP frames,
        over whatever comes after the cut: a crossfade, never a step in the waveform. It is
        folded into (b, g) as b*g + tail, so b becomes the sum divided by g where g > 0."""
        phase, gain, done = self._tail
        k = min(RAMP - done, len(b))
        env = gain * (1.0 - np.arange(done + 1, done + k + 1) / RAMP)
        tail = self.loop.read(phase, k) * env
        self._tail = (phase + k, gain, done + k) if done + k < RAMP else None
        # y = x + b*g*32768 must gain tail*32768 on the first k frames: give those frames gain
        # 1 and the sum as their samples
        mixed = b[:k] * g[:k] + tail
        b = b.copy()
        b[:k] = mixed
        g[:k] = 1.0
        return b
