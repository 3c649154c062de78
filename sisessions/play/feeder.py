"""The feeder: the one source of frames for the audio backend, cue by cue; read() never blocks.

Why it places and renders cues itself instead of using plan/timeline.place + output/render:
those need every line's exact length before the first frame (a Timeline is placed up front),
but a cold-cache play must start sounding before all speech exists. So the feeder walks the
untimed Program, takes each clip when its cue begins, and when a line is not ready yet gives
silence at that cue boundary (never mid-word) until it is, moving everything after it later by
that wait. On a warm cache every length is known first and each cue starts at the frame the
plan gives it, as in `show` and `export`. A bed (play/bed.py) is mixed into each chunk by the
session position of its frames, so it follows the same placement.
"""
from __future__ import annotations

import sys
import threading
import time
from array import array
from collections import deque

from sisessions.audio import FRAME_BYTES, RATE, Through
from sisessions.play.prefetch import Clips
from sisessions.play.program import Program

FADE_FRAMES = RATE // 100       # 10 ms: a cut (skip, pause, stop) never clicks


class Feeder:
    """The session as frames, cue by cue. Thread-safe; read() never blocks."""

    def __init__(self, program: Program, clips: Clips, start: int, after_preroll: int | None = None,
                 bed=None):
        self.p = program
        self.bed = bed                       # a play.bed.LiveBed, or None
        self.after_preroll = after_preroll  # --from with --delay: the pre-roll, then the pattern
        self.clips = clips
        self._lock = threading.Lock()
        self.index = start
        self.offset = 0
        self._entered = False
        self._pcm: bytes | None = None
        self._len = 0
        self._fade = b""
        self.paused = False
        self.stopped = False
        self.finished = start >= len(program.events)
        self.waiting = False
        self.generation = 0
        self.fed = 0
        self.session_frames = 0
        self.wait_frames = 0
        self.first_sound: float | None = None
        self.last_say: int | None = None
        self.started: deque[int] = deque(maxlen=4096)  # event indexes as they begin

    # -- cue entry and exit
    def _enter(self) -> bool:
        e = self.p.events[self.index]
        pcm = None
        if e.kind == "say":
            pcm = self.clips.pcm(e.text)
            if pcm is None and e.text not in self.clips.failed:
                self.waiting = True
                self.clips.move(self.index)  # the voice goes where we wait (after a pre-roll's jump too)
                return False
            n = len(pcm) // FRAME_BYTES if pcm is not None else self.p.lengths[self.index]
            if self.index >= self.p.first:
                self.last_say = self.index
        elif e.kind == "chime":
            pcm = self.clips.chime()
            if pcm is None:
                self.waiting = True
                return False
            n = len(pcm) // FRAME_BYTES
        else:
            n = self.p.lengths[self.index]
        self._pcm, self._len, self._entered, self.waiting = pcm, n, True, False
        self.started.append(self.index)
        self.clips.move(self.index)
        return True

    def _next(self) -> None:
        self.index += 1
        if self.index == self.p.first and self.after_preroll is not None:
            self.index = self.after_preroll
        self.offset = 0
        self._entered = False
        self._pcm = None
        if self.index >= len(self.p.events):
            self.finished = True

    def _take(self, frames: int, out: bytearray | None, hold: int | None = None,
              segments: list | None = None) -> int:
        """Move `frames` on, appending their sound to `out`; with `hold`, stop at the end of
        that event; with `segments`, note (frame in out, frames, session position) of each
        stretch of the session in it, for the bed. Returns the frames taken."""
        need = frames
        if self._fade:
            k = min(len(self._fade), need * FRAME_BYTES)
            if out is not None:
                out += self._fade[:k]
            self._fade = self._fade[k:] if out is not None else b""
            need -= k // FRAME_BYTES
        while need > 0:
            if hold is not None and (self.index != hold or not self._entered):
                break
            if self.paused or self.stopped or self.finished:
                if out is not None:
                    out += bytes(need * FRAME_BYTES)
                need = 0
                break
            if not self._entered and not self._enter():
                self.wait_frames += need
                if out is not None:
                    out += bytes(need * FRAME_BYTES)
                need = 0
                break
            k = min(need, self._len - self.offset)
            if k > 0:
                if segments is not None and self.index >= self.p.first:
                    segments.append((len(out) // FRAME_BYTES, k, self.p.position(self.index, self.offset)))
                if out is not None:
                    if self._pcm is not None:
                        chunk = self._pcm[self.offset * FRAME_BYTES:(self.offset + k) * FRAME_BYTES]
                        if self.first_sound is None and chunk.strip(b"\0"):
                            self.first_sound = time.monotonic()
                        out += chunk
                    else:
                        out += bytes(k * FRAME_BYTES)
                self.offset += k
                need -= k
                if self.index >= self.p.first:
                    self.session_frames += k
            if self.offset >= self._len:
                self._next()
        taken = frames - need
        self.fed += taken
        return taken

    # -- the backends' side
    def read(self, frames: int) -> bytes:
        out = bytearray()
        with self._lock:
            if self.bed is None:
                self._take(frames, out)
            else:
                segments: list = []
                self._take(frames, out, segments=segments)
                return self.bed.mix(out, segments)
        return bytes(out)

    def advance(self, frames: int, hold: int | None = None) -> int:
        with self._lock:
            return self._take(frames, None, hold)

    def sound_ahead(self) -> tuple[int, bytes] | None:
        """The rest of the current cue's sound, when a sound cue is due now (simpleaudio)."""
        with self._lock:
            if self.paused or self.stopped or self.finished:
                return None
            if not self._entered and not self._enter():
                return None
            if self._pcm is None or self.offset >= self._len:
                return None
            if self.first_sound is None:
                self.first_sound = time.monotonic()
            return self.index, self._pcm[self.offset * FRAME_BYTES:]

    # -- the keys' side
    def _fade_out(self) -> None:
        if not self._entered or self._pcm is None or self.paused:
            return
        start = self.offset * FRAME_BYTES
        tail = array("h", self._pcm[start:start + FADE_FRAMES * FRAME_BYTES])
        swap = sys.byteorder == "big"  # the PCM is little-endian
        if swap:  # pragma: no cover
            tail.byteswap()
        n = len(tail)
        for k in range(n):
            tail[k] = int(tail[k] * (n - k) / (n + 1))
        if swap:  # pragma: no cover
            tail.byteswap()
        self._fade = tail.tobytes()

    def toggle_pause(self) -> bool:
        with self._lock:
            if self.paused:
                self.paused = False
                if self.bed is not None:
                    self.bed.resume()
            else:
                self._fade_out()
                if self.bed is not None:  # silence while paused: the bed stops too
                    self.bed.cut()
                self.paused = True
                if self._entered and self._pcm is not None:
                    self.offset = 0  # an interrupted line is said again whole on resume
            self.generation += 1
            return self.paused

    def seek(self, index: int) -> None:
        """Go to an event at once (n, b, r); a paused session goes on from there."""
        with self._lock:
            self._fade_out()
            if self.bed is not None:
                self.bed.seek(self.p.position(index, 0) if self.p.first <= index < len(self.p.events) else None,
                              self.paused)
            self.paused = False
            self.index = index
            self.offset = 0
            self._entered = False
            self._pcm = None
            self.finished = index >= len(self.p.events)
            self.generation += 1
        self.clips.move(index)

    def stop(self) -> None:
        with self._lock:
            self._fade_out()
            if self.bed is not None:
                self.bed.cut()
            self.stopped = True
            self.generation += 1

    def where(self) -> tuple[int, int]:
        with self._lock:
            return self.index, self.offset



class Relay(Through):
    """The source the output pulls: the current part's feeder (the check, the session, the
    check-in), switched between reads without reopening the output, at the output gain
    (MPRIS Volume; a change is ramped over one read, so it never clicks)."""

    def __init__(self, source: Feeder):
        self.source = source
        self._parts = 0
        self.gain = 1.0
        self._applied = 1.0

    def switch(self, source: Feeder) -> None:
        self.source = source
        self._parts += 1

    def read(self, frames: int) -> bytes:
        data = self.source.read(frames)
        to, at = self.gain, self._applied
        if to == 1.0 and at == 1.0:
            return data
        self._applied = to
        import numpy as np  # late: only a volume other than 1 needs it (warm start stays light)

        x = np.frombuffer(data, "<i2")
        gain = np.linspace(at, to, len(x), endpoint=False)  # at + (to - at) * i / n
        return np.clip(np.trunc(x * gain), -32768, 32767).astype("<i2").tobytes()

    @property
    def generation(self) -> int:
        # a new part is a new generation: simpleaudio stops the buffer of the one before
        return self._parts * 1_000_000_000 + self.source.generation
