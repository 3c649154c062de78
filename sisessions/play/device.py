"""Audio output backends: miniaudio (default, streams from a pull callback) and simpleaudio.

A backend pulls frames from a `Source` (play.Feeder) and never decides what to play. The
source must never block: it returns silence when nothing is ready.

- miniaudio: the device's callback asks for N frames and gets exactly N; playback position is
  the count of frames handed over, so cue starts are exact to the sample.
- simpleaudio: it can only play whole buffers, so a thread walks the source by the wall clock
  and plays each sound cue (a spoken line, a chime) as one buffer; silences are clock time,
  and the few milliseconds each buffer takes to open are won back in the next silence.
"""
from __future__ import annotations

import abc
import contextlib
import os
import sys
import tempfile
import threading
import time
from typing import Protocol

from sisessions.audio import CHANNELS, FRAME_BYTES, RATE, WIDTH
from sisessions.errors import AudioError

PLAYERS = ("auto", "miniaudio", "simpleaudio")
# The output's queue. miniaudio asks PulseAudio for a target length of one "period", and the
# server keeps about half of it queued (measured: 0.27 s for 500 ms): that much of a delay of the
# audio thread is absorbed without a gap. With 50 ms (0.04 s queued) two busy processes on two
# cores made gaps and late cues (benchmarks/play_load.py; the figures are in README). The price
# is that a pause, a jump or a volume change is heard up to that much later (a pause still ends
# the sound with a fade, never a cut), except where all that is queued is silence: then the
# output is opened afresh (MiniaudioPlayer._follow). Ctrl-C and a lost output close at once.
BUFFER_MS = 500
QUEUED = 0.3              # seconds of audio queued in the output while it plays (see above)
STALL_SECONDS = 4.0       # no callback for this long while running: the output went away


class Source(Protocol):
    def read(self, frames: int) -> bytes: ...
    def sound_ahead(self) -> tuple[int, bytes] | None: ...
    def advance(self, frames: int, hold: int | None = None) -> int: ...
    @property
    def generation(self) -> int: ...


class NoOutput(AudioError):
    """No audio output could be opened (no device, no sound server)."""


class Player(abc.ABC):
    name = ""
    latency = 0.2  # seconds of audio that may still be queued after the last frame was taken

    @abc.abstractmethod
    def start(self, source: Source) -> None:
        """Begin pulling frames from `source` on the audio output."""

    def alive(self) -> bool:
        return True

    def drain(self) -> None:
        """Return once what was taken from the source has been heard (the session's end)."""
        time.sleep(self.latency)

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- C libraries' chatter


@contextlib.contextmanager
def quiet_c_stderr():
    """Send what C libraries print on fd 2 (ALSA's 'cannot find card', libpulse's 'Connection
    terminated') to a temp file while audio runs; Python's own stderr keeps the terminal."""
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all (a daemon): nothing to protect
        yield
        return
    old_stderr = sys.stderr
    with tempfile.TemporaryFile() as sink:
        try:
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        try:
            sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=getattr(
                old_stderr, "encoding", None) or "utf-8", errors="replace")
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            new = sys.stderr
            sys.stderr = old_stderr
            with contextlib.suppress(OSError, ValueError):
                new.flush()
                new.close()
            os.dup2(saved, 2)
            os.close(saved)
            if os.environ.get("SISESSIONS_DEBUG"):
                sink.seek(0)
                chatter = sink.read().decode(errors="replace").strip()
                if chatter:
                    print(f"(audio libraries said: {chatter[-2000:]})", file=sys.stderr)


# ---------------------------------------------------------------- miniaudio


def _import_miniaudio():
    # miniaudio imports numpy when it can (0.1 s) though we only ever hand it bytes: hide
    # numpy while it loads so that a warm start stays well under half a second.
    hide = "numpy" not in sys.modules
    if hide:
        sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        import miniaudio
    finally:
        if hide:
            sys.modules.pop("numpy", None)
    return miniaudio


class MiniaudioPlayer(Player):
    name = "miniaudio"

    def __init__(self, app_name: str = "sisessions"):
        try:
            ma = _import_miniaudio()
        except ImportError as e:
            raise NoOutput("the miniaudio package is missing (pip install miniaudio)") from e
        self._ma = ma
        self._backends = [b for b in ma.Backend if b not in (ma.Backend.NULL, ma.Backend.CUSTOM)]
        self._app_name = app_name
        try:
            self.device = self._open()
        except ma.MiniaudioError as e:
            raise NoOutput(f"miniaudio found no audio output ({e.args[0] if e.args else e})") from e
        self.latency = QUEUED
        self._last = time.monotonic()
        self.pulled = 0                     # frames handed to the output so far
        self._sounded = 0                   # `pulled` after the last frames that were not silence
        self._error: BaseException | None = None
        self._gen = None
        self._closing = threading.Event()
        self._follower: threading.Thread | None = None

    def _open(self):
        ma = self._ma
        return ma.PlaybackDevice(output_format=ma.SampleFormat.SIGNED16, nchannels=CHANNELS, sample_rate=RATE,
                                 buffersize_msec=BUFFER_MS, backends=self._backends, app_name=self._app_name)

    def _pull(self, source: Source):
        frames = yield b""
        while True:
            self._last = time.monotonic()
            self.pulled += frames
            try:
                data = source.read(frames)
            except BaseException as e:  # never let an exception escape into the audio thread
                self._error = e
                data = bytes(frames * FRAME_BYTES)
            if data.count(0) != len(data):
                self._sounded = self.pulled
            frames = yield data

    def start(self, source: Source) -> None:
        self._gen = self._pull(source)
        next(self._gen)
        self._last = time.monotonic()
        try:
            self.device.start(self._gen)
        except Exception as e:
            raise NoOutput(f"the audio device would not start ({e})") from e
        self._follower = threading.Thread(target=self._follow, args=(source,), name="sisessions-output",
                                          daemon=True)
        self._follower.start()

    def _follow(self, source: Source) -> None:
        """A pause, a resume, a jump or the next part changes the source's generation. When all
        the output still has queued is silence (a pause held, a jump from a silence), that
        silence is dropped by opening the output afresh, so the new sound starts at once instead
        of behind 0.3 s of queued silence. Queued sound is never dropped: it plays out (a cut
        would click), and a fresh output that will not open leaves the old one playing."""
        seen = source.generation
        while not self._closing.wait(0.01):
            now = source.generation
            if now == seen:
                continue
            seen = now
            if self.pulled - self._sounded < RATE * BUFFER_MS // 1000:
                continue
            try:
                fresh = self._open()
            except Exception:
                continue
            old, self.device = self.device, fresh
            with contextlib.suppress(Exception):
                old.close()
            self._last = time.monotonic()
            try:
                fresh.start(self._gen)
            except Exception as e:  # the output went away between two opens: as a lost output
                self._error = NoOutput(f"the audio device would not start again ({e})")
                return

    def alive(self) -> bool:
        if self._error is not None:
            raise self._error
        return time.monotonic() - self._last < STALL_SECONDS

    def drain(self) -> None:
        """The output asks for more only as its queue empties: once it has taken a whole
        queue's worth of frames after this moment, everything before it has been played
        (however late a busy machine ran the audio thread). At most 3 s."""
        target = self.pulled + RATE * BUFFER_MS // 1000
        deadline = time.monotonic() + 3.0
        while self.pulled < target and time.monotonic() < deadline and self.alive():
            time.sleep(0.02)

    def close(self) -> None:
        self._closing.set()
        if self._follower is not None:
            self._follower.join(timeout=2)
        with contextlib.suppress(Exception):
            self.device.close()


# ---------------------------------------------------------------- simpleaudio


class SimpleaudioPlayer(Player):
    name = "simpleaudio"
    TICK = 0.02

    def __init__(self):
        try:
            import simpleaudio
        except ImportError as e:
            raise AudioError("the simpleaudio player is not installed: "
                             "pip install 'sisessions[simpleaudio]' (it needs libasound2-dev to build)") from e
        self.sa = simpleaudio
        try:  # open the output once with 10 ms of silence: no output, no start
            simpleaudio.play_buffer(bytes(RATE // 100 * FRAME_BYTES), CHANNELS, WIDTH, RATE).wait_done()
        except Exception as e:
            raise NoOutput(f"simpleaudio found no audio output ({e})") from e
        self.latency = 0.1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._dead = False
        self._error: BaseException | None = None

    def start(self, source: Source) -> None:
        self._thread = threading.Thread(target=self._run, args=(source,), name="simpleaudio", daemon=True)
        self._thread.start()

    def _run(self, source: Source) -> None:
        try:
            self._walk(source)
        # the output went away: ALSA refused a buffer. A private name (simpleaudio exports none
        # for its error; tests/test_layout.py checks it is there)
        except self.sa._simpleaudio.SimpleaudioError:
            self._dead = True
        except Exception as e:
            self._error = e

    def _walk(self, source: Source) -> None:
        """Advance the source by the clock; play each sound cue as one buffer when it starts."""
        t_ref = time.monotonic()
        pos = 0                       # frames taken from the source since t_ref
        playing = None                # (play object, generation, event index)
        while not self._stop.is_set():
            if playing is not None:
                po, gen, index = playing
                if source.generation != gen:
                    po.stop()
                if not po.is_playing():
                    if source.generation == gen:  # heard out: its event is over, even if the clock lags
                        pos += source.advance(1 << 30, hold=index)
                    playing = None
                    continue
            else:
                ahead = source.sound_ahead()
                if ahead is not None:
                    gen = source.generation
                    index, pcm = ahead
                    playing = (self.sa.play_buffer(pcm, CHANNELS, WIDTH, RATE), gen, index)
            self._stop.wait(self.TICK)
            due = int((time.monotonic() - t_ref) * RATE) - pos
            if due > RATE // 2:  # the machine stalled: never rush through what was missed
                t_ref += (due - RATE // 50) / RATE
                due = RATE // 50
            if due > 0:
                # A sound cue never runs ahead of its own buffer: the clock waits at its end
                # until it is heard out and catches up in the silence that follows.
                pos += source.advance(due, hold=playing[2] if playing else None)
        if playing is not None:
            playing[0].stop()

    def alive(self) -> bool:
        if self._error is not None:
            raise self._error
        return not self._dead

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        with contextlib.suppress(Exception):
            self.sa.stop_all()


# ---------------------------------------------------------------- choosing


def open_player(name: str = "auto") -> Player:
    """The named backend, opened; `auto` takes the first that opens. Raises NoOutput (exit 1)."""
    if name not in PLAYERS:
        raise AudioError(f"unknown player '{name}'; choose one of: {', '.join(PLAYERS)}")
    if name == "miniaudio":
        return MiniaudioPlayer()
    if name == "simpleaudio":
        return SimpleaudioPlayer()
    reasons = []
    for cls in (MiniaudioPlayer, SimpleaudioPlayer):
        try:
            return cls()
        except AudioError as e:
            reasons.append(str(e))
    raise NoOutput("; ".join(reasons))
