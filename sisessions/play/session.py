"""Hands-free playback: the session cue by cue to the audio output, with keys and a display.

How the parts fit:
- Program: the events to play (an optional "starting in" pre-roll, then the session) with a
  length for each; a spoken line's length is a guess until its clip is known.
- Clips: a background thread that synthesizes lines ahead of the playing position (nearest
  first) and loads the few clips due next into memory; the player never waits for it.
- Feeder: the one source of frames, cue by cue. When the next line's clip is not ready it
  gives silence at that cue boundary (never mid-word) until it is.
- a backend from sinks.player pulls frames from the Feeder.
- the main thread reads keys, redraws the display, and notices the end, Ctrl-C, or an output
  that went away; it then writes one record to the practice log.

Timing: on a warm cache every length is known before the first frame, so every cue starts at
its planned frame (as in `show` and `export`). On a cold cache sound starts when the first
line is ready; any wait for the voice is silence inserted at a cue boundary, which moves
everything after it later by that wait. Cues whose clips were ready keep their exact spacing.
"""
from __future__ import annotations

import bisect
import itertools
import os
import select
import shutil
import signal
import sys
import textwrap
import threading
import time
from array import array
from collections import deque
from dataclasses import dataclass
from typing import TextIO

from sisessions.audio import FRAME_BYTES, RATE
from sisessions.errors import AudioError, SisessionsError, UsageError
from sisessions.plan.timeline import (
    CHIME_FRAMES,
    Event,
    estimate_speech_seconds,
    seconds_to_frames,
)

FADE_FRAMES = RATE // 100       # 10 ms: a cut (skip, pause, stop) never clicks
AHEAD = 6                       # distinct lines kept loaded ahead of the playing position
VOICE_THREADS = 2               # lines made at once on a cold cache (each has its own worker)
TICK = 0.1                      # the main loop's pace: keys and Ctrl-C are handled within this


@dataclass(frozen=True)
class PlayOptions:
    player: str = "auto"
    delay: float = 0.0           # seconds of silence before the session (--delay)
    announce: bool = False       # say "Starting in N seconds." at once (--announce)
    start_at: str | None = None  # --from PATTERN


@dataclass(frozen=True)
class Block:
    """One pattern done once: a run of events of the same session item and side."""

    start: int
    end: int                     # exclusive
    pattern: str
    side: str | None
    number: int                  # 1-based among the blocks


@dataclass(frozen=True)
class Outcome:
    completed: bool
    how: str                     # done | quit | interrupted | lost
    message: str
    record: dict | None


class Interrupted(SisessionsError):
    """Ctrl-C (or SIGTERM, SIGHUP) while playing: exit 1 after saying where it stopped."""


class OutputLost(AudioError):
    """The audio output went away mid-session."""


def announce_text(delay: float) -> str:
    n = int(round(delay))
    if n >= 120 and n % 60 == 0:
        return f"Starting in {n // 60} minutes."
    return f"Starting in {n} second{'s' if n != 1 else ''}."


# ---------------------------------------------------------------- the program


class Program:
    """The events to play and their lengths in frames (guessed for lines not yet voiced)."""

    def __init__(self, events: tuple[Event, ...], titles: dict[str, str], wpm: int,
                 delay: float = 0.0, announce: bool = False):
        pre: list[Event] = []
        if delay > 0:
            if announce:
                pre.append(Event("say", text=announce_text(delay)))
            pre.append(Event("pause", seconds=delay))
        self.events = tuple(pre) + tuple(events)
        self.first = len(pre)
        self.titles = titles
        self.delay_frames = seconds_to_frames(delay)
        self.wpm = wpm
        self.lengths = [self._guess(e) for e in self.events]
        self.known = [e.kind != "say" for e in self.events]
        self.say_at: dict[str, list[int]] = {}
        for i, e in enumerate(self.events):
            if e.kind == "say":
                self.say_at.setdefault(e.text, []).append(i)
        self.says = [i for i, e in enumerate(self.events) if e.kind == "say"]
        self.blocks = self._blocks()
        self._sums: list[int] | None = None
        if announce and delay > 0:
            self._fit_preroll()

    def _guess(self, e: Event) -> int:
        if e.kind == "pause":
            return seconds_to_frames(e.seconds)
        if e.kind == "chime":
            return CHIME_FRAMES
        return seconds_to_frames(estimate_speech_seconds(e.text, self.wpm))

    def _blocks(self) -> tuple[Block, ...]:
        blocks, start, key = [], None, None
        for i, e in enumerate(self.events[self.first:] + (Event("pause"),), self.first):
            k = (e.item, e.side, e.pattern) if e.item is not None else None
            if k != key:
                if key is not None:
                    blocks.append(Block(start, i, key[2], key[1], len(blocks) + 1))
                start, key = i, k
        return tuple(blocks)

    def texts(self) -> list[str]:
        """Distinct lines in order of first use."""
        return list(self.say_at)

    def set_frames(self, text: str, frames: int) -> None:
        for i in self.say_at.get(text, ()):
            self.lengths[i] = frames
            self.known[i] = True
        if self.first and self.events[0].kind == "say" and self.events[0].text == text:
            self._fit_preroll()
        self._sums = None

    def _fit_preroll(self) -> None:
        """The announcement and the silence after it last --delay together."""
        self.lengths[1] = max(0, self.delay_frames - self.lengths[0])

    # -- positions on the session's own clock (the pre-roll is not part of it)
    def _prefix(self) -> list[int]:
        sums = self._sums  # the voice thread may reset it at any moment: read it once
        if sums is None:
            sums = [0, *itertools.accumulate(self.lengths[self.first:])]
            self._sums = sums
        return sums

    def position(self, index: int, offset: int) -> int:
        if index < self.first:
            return 0
        sums = self._prefix()
        return sums[min(index - self.first, len(sums) - 1)] + offset

    @property
    def total(self) -> int:
        return self._prefix()[-1]

    @property
    def all_known(self) -> bool:
        return all(self.known)

    def preroll_left(self, index: int, offset: int) -> int:
        return sum(self.lengths[index:self.first]) - offset if index < self.first else 0

    # -- navigation
    def block_at(self, index: int) -> Block | None:
        for b in self.blocks:
            if b.start <= index < b.end:
                return b
        return None

    def last_block_before(self, index: int) -> Block | None:
        """The block being done or most recently done at `index`."""
        found = None
        for b in self.blocks:
            if b.start <= index:
                found = b
        return found

    def next_target(self, index: int) -> int | None:
        """n: the start of the next pattern; after the last one, its closing part."""
        if index < self.first:
            return self.first
        for b in self.blocks:
            if b.start > index:
                return b.start
        end = self.blocks[-1].end if self.blocks else len(self.events)
        return end if end > index and end < len(self.events) else None

    def back_target(self, index: int) -> int:
        """b: the start of this pattern (or of the one just done, in a rest)."""
        b = self.last_block_before(index)
        return b.start if b is not None else self.first

    def from_pattern(self, pattern: str, session: str) -> int:
        for b in self.blocks:
            if b.pattern == pattern:
                return b.start
        raise UsageError(f"--from {pattern}: that pattern is not in session '{session}' today")


# ---------------------------------------------------------------- clips, ahead of time


class Clips:
    """Synthesizes lines ahead of the playing position in a thread and keeps the next few
    clips in memory, so the audio thread only ever copies bytes."""

    def __init__(self, speech, program: Program, debug: bool = False):
        self.speech = speech
        self.program = program
        self.debug = debug
        self._pcm: dict[str, bytes] = {}
        self.failed: dict[str, str] = {}
        self.error: BaseException | None = None   # fatal: the voice never worked
        self.voiced = 0
        self.made = 0
        self._chime: bytes | None = None
        self._needs_chime = any(e.kind == "chime" for e in program.events)
        self.cursor = program.first
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._claimed: set[str] = set()   # lines a voice thread is making now
        self._claim = threading.Lock()

    # -- the audio thread's side: never blocks
    def pcm(self, text: str) -> bytes | None:
        return self._pcm.get(text)

    def chime(self) -> bytes | None:
        return self._chime

    def move(self, index: int) -> None:
        self.cursor = index
        self._wake.set()

    # -- before start: every cached length, and the first line in memory
    def prime(self, start: int) -> None:
        for text in self.program.texts():
            hit = self.speech.lookup(text)
            if hit is not None:
                self.program.set_frames(text, hit[1])
                self.voiced += 1
        self.cursor = start
        p = self.program
        k = bisect.bisect_left(p.says, start)
        if k < len(p.says):  # the first line to be said: in memory before the first frame
            text = p.events[p.says[k]].text
            hit = self.speech.lookup(text)
            if hit is not None:
                self._load(text, hit)
        if start < len(self.program.events) and self.program.events[start].kind == "chime":
            self._make_chime()

    def start(self) -> None:
        # A second voice thread (with its own engine worker) helps a cold start catch up; it
        # waits for the first line, so that two workers loading a model at once never delay it.
        for k in range(VOICE_THREADS if (os.cpu_count() or 1) > 1 else 1):
            t = threading.Thread(target=self._run, args=(k > 0,), name=f"sisessions-voice-{k}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self) -> None:
        """Stop making lines. A thread in the middle of one is not waited for (it is a daemon,
        and closing the speech stops its worker): the person is told at once where it stopped."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + 0.3
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- the threads
    def _run(self, helper: bool = False) -> None:
        while helper and self.voiced == 0 and self.error is None:
            if self._stop.wait(0.1):
                return
        while not self._stop.is_set():
            self._wake.clear()  # before the step: a move during it wakes the next wait at once
            try:
                busy = self._step(helper)
            except BaseException as e:  # pragma: no cover - a bug; surface it in the main thread
                self.error = e
                return
            if not busy:
                self._wake.wait(0.5)

    def _window(self) -> list[str]:
        """The line just spoken (for r) and the next AHEAD distinct lines from the cursor."""
        p = self.program
        k = bisect.bisect_left(p.says, self.cursor)
        texts = [p.events[p.says[k - 1]].text] if k > 0 else []
        for i in p.says[k:]:
            t = p.events[i].text
            if t not in texts:
                texts.append(t)
                if len(texts) > AHEAD:
                    break
        return texts

    def _step(self, helper: bool = False) -> bool:
        """One piece of work, the most urgent first; False when there is none."""
        window = self._window()
        for text in window:
            if text not in self._pcm and text not in self.failed and self._voice(text):
                return True
        if helper:
            return self._rest()
        if self._needs_chime and self._chime is None:
            self._make_chime()
            return True
        for text in list(self._pcm):
            if text not in window:
                self._pcm.pop(text, None)
        return self._rest()

    def _rest(self) -> bool:
        """Every other line, for exact lengths and a session that never waits later on."""
        for text, where in self.program.say_at.items():
            if not self.program.known[where[0]] and text not in self.failed and self._voice(text, load=False):
                return True
        return False

    def _voice(self, text: str, load: bool = True) -> bool:
        """Find or make one line (and load it); False when another thread is making it."""
        hit = self.speech.lookup(text)
        if hit is None:
            with self._claim:
                if text in self._claimed:
                    return False
                self._claimed.add(text)
            try:
                hit = self.speech.get(text)
            except BaseException as e:
                return self._failed(text, e)
            finally:
                with self._claim:
                    self._claimed.discard(text)
            self.made += 1
            self.voiced += 1
        self.program.set_frames(text, hit[1])
        if load:
            self._load(text, hit)
        return True

    def _failed(self, text: str, e: BaseException) -> bool:
        """A line the voice could not make is left silent (its guessed length) and the session
        goes on; a voice that never worked at all ends it (the main thread raises the error)."""
        self.failed[text] = str(e)
        if (self.voiced == 0 or isinstance(e, UsageError) or not isinstance(e, Exception)
                or (self.debug and not isinstance(e, SisessionsError))):
            self.error = e
            self._stop.set()
        return True

    def _load(self, text: str, hit) -> None:
        path, frames = hit
        data = path.read_bytes()
        self._pcm[text] = data[len(data) - frames * FRAME_BYTES:]

    def _make_chime(self) -> None:
        from sisessions.output.chime import chime_pcm

        self._chime = chime_pcm(CHIME_FRAMES)


# ---------------------------------------------------------------- the feeder


class Feeder:
    """The session as frames, cue by cue. Thread-safe; read() never blocks."""

    def __init__(self, program: Program, clips: Clips, start: int, after_preroll: int | None = None):
        self.p = program
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

    def _take(self, frames: int, out: bytearray | None, hold: int | None = None) -> int:
        """Move `frames` on, appending their sound to `out`; with `hold`, stop at the end of
        that event. Returns the frames taken."""
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
            self._take(frames, out)
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
            else:
                self._fade_out()
                self.paused = True
                if self._entered and self._pcm is not None:
                    self.offset = 0  # an interrupted line is said again whole on resume
            self.generation += 1
            return self.paused

    def seek(self, index: int) -> None:
        """Go to an event at once (n, b, r); a paused session goes on from there."""
        with self._lock:
            self._fade_out()
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
            self.stopped = True
            self.generation += 1

    def where(self) -> tuple[int, int]:
        with self._lock:
            return self.index, self.offset


# ---------------------------------------------------------------- keys


class Keys:
    """Single key presses from a terminal (cbreak: no Enter needed; Ctrl-C still interrupts)."""

    def __init__(self, stream: TextIO):
        import termios
        import tty

        self.fd = stream.fileno()
        self._termios = termios
        self._old = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)

    @staticmethod
    def usable(stream: TextIO) -> bool:
        try:
            if not stream.isatty():
                return False
            import termios  # noqa: F401  (POSIX only)
        except (ImportError, AttributeError, ValueError, OSError):
            return False
        try:  # in the background of a shell, changing the terminal would stop us (SIGTTOU)
            return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except OSError:  # not our controlling terminal: no job control to fear
            return True

    def read(self, timeout: float) -> str:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return ""
        try:
            data = os.read(self.fd, 64)
        except OSError:
            return ""
        if not data:  # the terminal closed: no more keys, keep playing
            time.sleep(timeout)
        return data.decode(errors="ignore")

    def close(self) -> None:
        try:
            self._termios.tcsetattr(self.fd, self._termios.TCSADRAIN, self._old)
        except Exception:  # pragma: no cover - the terminal is gone
            pass


# ---------------------------------------------------------------- the display


def clock(frames: int) -> str:
    from sisessions.app import duration_text

    return duration_text(frames / RATE)


class View:
    """What the display shows, taken from the feeder and the program."""

    def __init__(self, program: Program, feeder: Feeder, title: str):
        self.p = program
        self.f = feeder
        self.title = title
        self.line: str | None = None   # the current (or last) spoken line of the session

    def pattern_label(self, index: int) -> str:
        b = self.p.block_at(index)
        if index >= len(self.p.events):
            return "Done"
        if b is None:
            if index < self.p.first:
                return "Starting soon"
            if not self.p.blocks or index < self.p.blocks[0].start:
                return "Opening"
            if index >= self.p.blocks[-1].end:
                return "Closing"
            return "Rest"
        side = f" ({b.side} side)" if b.side else ""
        return f"{self.p.titles.get(b.pattern, b.pattern)}{side} · {b.number} of {len(self.p.blocks)}"

    def times(self) -> tuple[str, float]:
        index, offset = self.f.where()
        total = self.p.total
        if index < self.p.first:
            return f"starting in {clock(self.p.preroll_left(index, offset))}", 0.0
        pos = min(self.p.position(index, offset), total)
        approx = "" if self.p.all_known else "~"
        return f"{clock(pos)} / {approx}{clock(total)}", pos / total if total else 1.0

    def state(self) -> str:
        if self.f.paused:
            return "paused"
        if self.f.waiting:
            return "waiting for the voice"
        return ""


class TtyDisplay:
    """A few lines redrawn in place."""

    HELP = "space pause · n next · b back · r repeat · q quit"

    def __init__(self, view: View, out: TextIO, keys: bool):
        self.v = view
        self.out = out
        self.keys = keys
        self._drawn = 0
        self._last = ""
        enc = (getattr(out, "encoding", "") or "").lower()
        self.full, self.empty = ("█", "░") if "utf" in enc else ("#", "-")
        if "utf" not in enc:
            self.HELP = self.HELP.replace("·", "-")
        self.out.write("\x1b[?25l")

    def event(self, index: int) -> None:
        e = self.v.p.events[index]
        if e.kind == "say" and index >= self.v.p.first:
            self.v.line = e.text

    def note(self, text: str) -> None:
        self._flush([text])

    def update(self) -> None:
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        index, _ = self.v.f.where()
        when, frac = self.v.times()
        bar_w = max(10, min(40, width - len(when) - 16))
        filled = int(round(frac * bar_w))
        state = self.v.state()
        said = textwrap.wrap(f"\"{self.v.line}\"", width - 2, max_lines=3, placeholder=" ...\"") if self.v.line else [""]
        lines = [
            f"{self.v.title} · {self.v.pattern_label(index)}",
            *[f"  {ln}" for ln in said],
            f"  {when}  {self.full * filled}{self.empty * (bar_w - filled)}  {int(frac * 100):3d}%"
            + (f"  {state}" if state else ""),
        ]
        if self.keys:
            lines.append(f"  {self.HELP}")
        lines = [ln[:width] for ln in lines]
        text = "\n".join(lines)
        if text != self._last:
            self._last = text
            self._redraw(lines)

    def _redraw(self, lines: list[str]) -> None:
        up = f"\x1b[{self._drawn}F" if self._drawn else ""
        self.out.write(up + "".join(f"\x1b[2K{ln}\n" for ln in lines) + "\x1b[J")
        self.out.flush()
        self._drawn = len(lines)

    def _flush(self, extra: list[str]) -> None:
        # a message goes above the status lines, which are then drawn again below it
        up = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        self.out.write(up + "".join(f"{ln}\n" for ln in extra))
        self._drawn = 0
        self._last = ""
        self.update()

    def close(self) -> None:
        self.update()
        self.out.write("\x1b[?25h")
        self.out.flush()


class LineDisplay:
    """Plain timestamped lines (cron, a pipe): one per spoken line and pattern."""

    def __init__(self, view: View, out: TextIO):
        self.v = view
        self.out = out
        self._block: Block | None = None

    def _say(self, text: str) -> None:
        when, _ = self.v.times()
        self.out.write(f"{time.strftime('%H:%M:%S')}  {when}  {text}\n")
        self.out.flush()

    def event(self, index: int) -> None:
        p = self.v.p
        e = p.events[index]
        b = p.block_at(index)
        if b is not None and b is not self._block:
            self._say(f"[{self.v.pattern_label(index)}]")
        self._block = b
        if e.kind == "pause" and index < p.first:
            self._say("(quiet until the session starts)")
        if e.kind == "say":
            if index >= p.first:
                self.v.line = e.text
            self._say(f"\"{e.text}\"")

    def note(self, text: str) -> None:
        self._say(text)

    def update(self) -> None:
        pass

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- the controller


class _Stop(Exception):
    """SIGTERM or SIGHUP: stop like Ctrl-C."""


def _raise_stop(signum, frame):
    raise _Stop()


class Session:
    """One play: opens the output, runs until the end, q, Ctrl-C or a lost output, logs it."""

    def __init__(self, prepared, speech, options: PlayOptions, name: str, out: TextIO | None = None,
                 keys_from: TextIO | None = None, debug: bool = False):
        self.prepared = prepared
        self.speech = speech
        self.o = options
        self.name = name
        self.out = out or sys.stdout
        self.keys_from = keys_from or sys.stdin
        self.debug = debug
        s, lib = prepared.session, prepared.library
        titles = {it.pattern: lib.pattern(it.pattern).title for it in s.items}
        self.program = Program(prepared.events, titles, prepared.opts.wpm, options.delay, options.announce)
        target = self.program.from_pattern(options.start_at, s.id) if options.start_at else None
        self.start = 0 if self.program.first or target is None else target
        self.clips = Clips(speech, self.program, debug)
        self.feeder = Feeder(self.program, self.clips, self.start, after_preroll=target)
        self.view = View(self.program, self.feeder, s.title)

    def run(self) -> Outcome:
        from sisessions.play.device import NoOutput, open_player, quiet_c_stderr

        self.clips.prime(self.start)
        with quiet_c_stderr():
            try:
                player = open_player(self.o.player)
            except NoOutput as e:
                raise NoOutput(
                    f"no audio output could be opened ({e}); to listen anyway, write the session to "
                    f"an MP3 with `sisessions export {self.name}` and play that file") from e
            try:
                self.clips.start()
                player.start(self.feeder)
                how = self._loop(player)
            finally:
                self.feeder.stop()
                player.close()
                self.clips.stop()
        return self._finish(how, player.name)

    def _loop(self, player) -> str:
        keys = None
        if Keys.usable(self.keys_from):
            try:
                keys = Keys(self.keys_from)
            except Exception:  # pragma: no cover - a terminal that refuses cbreak
                keys = None
        tty = self.out.isatty()
        display = TtyDisplay(self.view, self.out, keys is not None) if tty else LineDisplay(self.view, self.out)
        self.display = display
        old = {}
        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                old[sig] = signal.signal(sig, _raise_stop)
        try:
            return self._run_loop(player, keys, display)
        except (KeyboardInterrupt, _Stop):
            self.feeder.stop()  # silence first, then everything else
            return "interrupted"
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)
            if keys is not None:
                keys.close()
            display.close()

    def _run_loop(self, player, keys, display) -> str:
        waited_note = False
        while True:
            if keys is not None:
                for ch in keys.read(TICK):
                    if self._key(ch, display) == "quit":
                        self.feeder.stop()
                        return "quit"
            else:
                time.sleep(TICK if self.out.isatty() else 0.2)
            while self.feeder.started:
                display.event(self.feeder.started.popleft())
            if self.clips.error is not None:
                raise self.clips.error
            # a line loaded a few ms late (after a jump) is no news; a real wait for the voice is
            if self.feeder.waiting and not waited_note and self.feeder.wait_frames > RATE // 3:
                waited_note = True
                display.note("(the voice fell behind: waiting for it in silence)"
                             if self.feeder.first_sound is not None else
                             "(preparing the voice; `sisessions synth` beforehand makes the start instant)")
            display.update()
            if self.feeder.finished:
                time.sleep(player.latency)
                return "done"
            if not player.alive():
                self.feeder.stop()
                return "lost"

    def _key(self, ch: str, display) -> str | None:
        f, p = self.feeder, self.program
        index, _ = f.where()
        if ch in "qQ":
            return "quit"
        if ch == " ":
            f.toggle_pause()
        elif ch in "nN":
            target = p.next_target(index)
            if index < p.first and f.after_preroll is not None:
                target = f.after_preroll
            if target is not None:
                f.seek(target)
        elif ch in "bB":
            f.seek(p.back_target(index) if index >= p.first else p.first)
        elif ch in "rR":
            if f.last_say is not None:
                f.seek(f.last_say)
        return None

    # -- the end
    def _where(self) -> tuple[str | None, str]:
        """(the pattern being done or just done, where: "in Washrag, at 3:12 of 20:40")."""
        index, offset = self.feeder.where()
        if index < self.program.first:
            return None, "before the session began"
        b = self.program.last_block_before(index)
        pattern = b.pattern if b is not None else None
        place = f"in {self.program.titles.get(pattern, pattern)}" if pattern else "before the first pattern"
        return pattern, f"{place}, at {clock(self.program.position(index, offset))} of {clock(self.program.total)}"

    def _finish(self, how: str, player_name: str) -> Outcome:
        from sisessions.practice import log

        pattern, when = self._where()
        completed = how == "done"
        opts, session = self.prepared.opts, self.prepared.session
        side = opts.side if any(e.side for e in self.program.events) else None
        record = log.play_record(session.id, side, opts.pace, self.speech.settings.engine, completed,
                                 pattern, self.feeder.session_frames / RATE / 60)
        try:
            log.append(record)
            logged = ""
        except OSError as e:
            logged = f" (the practice log could not be written: {e.strerror or e})"
            record = None
        title = self.prepared.session.title
        if completed:
            msg = f"Done: {title}, {clock(self.feeder.session_frames)} played.{logged}"
            return Outcome(True, how, msg, record)
        again = f" `sisessions play {self.name} --from {pattern}` starts there again." if pattern else ""
        if how == "lost":
            raise OutputLost(f"the audio output went away {when}; the session stopped there"
                             f" and was logged as stopped{logged}")
        msg = f"Stopped {when}.{again}{logged}"
        if how == "interrupted":
            raise Interrupted(msg)
        return Outcome(False, how, msg, record)


def play(prepared, speech, options: PlayOptions, name: str, debug: bool = False) -> Outcome:
    """Play a prepared session to the audio output; raises Interrupted on Ctrl-C (exit 1)."""
    return Session(prepared, speech, options, name, debug=debug).run()
