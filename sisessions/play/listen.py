"""Spoken commands (`play --listen`): the default microphone, heard only in the session's
silences; each voiced stretch is decoded by pocketsphinx against a grammar of the commands, and
each command acts on the one controller.

Why it is shaped like this:
- pocketsphinx ships its US English model in the wheel, so nothing is downloaded and nothing
  leaves the machine.
- The listener only hears silences, so it segments instead of spotting: a stretch of pitched
  sound (a vowel; breath and room noise have none) is collected, and when it ends it is
  decoded once with a small grammar of the commands and once with a free phone loop; it is
  acted on only if the grammar explains it nearly as well as the phone loop does. Keyword
  spotting, tried first, missed most short words in breath noise (README has both figures).
- The microphone is read only to be thrown away unless the gate is open: while the voice
  speaks, and for ECHO_TAIL after (the room's echo and the output's queue), captured audio is
  dropped unheard, so the session's own voice cannot trigger it. Nothing is written: at most
  the last KEEP samples of the current silence stay in memory.
- A command is acknowledged by play.tone through the same output the session uses.
"""
from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections import deque

from sisessions.errors import UsageError
from sisessions.play.controls import Command

MIC_RATE = 16000          # the rate pocketsphinx's acoustic model was trained at
PERIOD_MS = 100           # one capture chunk: the gate and the decoder step by this
ECHO_TAIL = 0.5           # seconds after the last sound before listening again
NO_MICROPHONE = "no microphone: playing without listening"
INSTALL = ("spoken commands need the pocketsphinx recogniser: "
           "pip install 'pocketsphinx>=5,<6' (or `bash setup.sh`)")
LISTENING = "listening"

# What each spoken phrase does (a play.controls.Command), and the confidence it
# needs: how much better, per frame, the command grammar explains the stretch than a free phone
# loop does (log base 1.0001; 0 means as well). Chosen by `benchmarks/listen.py --tune` on its
# take A (the strictest level with the most detections and no false trigger over `daily`;
# README has the figures, reported on take B). "resume" and "skip" are alternates; "go back"
# was tried and left out: the grammar then took "stop" and "back" for a cut-off "go".
PHRASES: dict[str, tuple[str, float]] = {
    "pause": ("pause", -25.0),
    "continue": ("resume", -25.0),
    "resume": ("resume", -25.0),
    "next": ("next", -25.0),
    "skip": ("next", -25.0),
    "back": ("back", -25.0),
    "repeat": ("repeat", -25.0),
    "stop": ("stop", -25.0),
}


class RecogniserMissing(UsageError):
    """`--listen` without pocketsphinx installed: exit 2 with the install line."""


class NoMicrophone(Exception):
    """No capture device could be opened; the session plays on without listening."""


def check_installed() -> None:
    """Raise RecogniserMissing unless pocketsphinx imports (checked before anything plays; the
    import is needed to listen anyway, so it costs nothing more)."""
    try:
        import pocketsphinx  # noqa: F401
    except ImportError as e:
        raise RecogniserMissing(INSTALL) from e


def jsgf(phrases) -> str:
    """The command grammar: any one of the phrases, alone."""
    return ("#JSGF V1.0;\ngrammar commands;\npublic <command> = "
            + " | ".join(sorted(phrases)) + ";\n")


FRAME = MIC_RATE // 100        # pocketsphinx's frames (and the voicing hop) are 10 ms
WIN = 3 * FRAME                # the voicing window: 30 ms, at least two pitch periods
KEEP = 4 * MIC_RATE            # samples of the current silence held in memory, never more
PAD_BEFORE = 0.3               # seconds before the first voiced frame given to the decoder
HANG = 0.3                     # seconds without voicing that end a stretch (and after it)
MAX_VOICED = 2.5               # a longer voiced stretch is talk, not a command: not decoded
VOICED_MIN = 0.05              # seconds of voicing a stretch must have (noise and breath: none)
VOICING = 0.45                 # normalised autocorrelation peak that counts as pitched


def voiced_frames(x):
    """Per 10 ms hop, whether the 30 ms window starting there is voiced: its pre-emphasised
    autocorrelation has a clear peak at a pitch period (80-400 Hz). Breath and room noise are
    unvoiced; every spoken command has a vowel."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    x = x[1:] - 0.7 * x[:-1]           # mild pre-emphasis: low rumble would look periodic
    if len(x) < WIN:
        return np.zeros(0, dtype=bool)
    frames = np.lib.stride_tricks.sliding_window_view(x, WIN)[::FRAME]
    frames = frames - frames.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(frames, 1024, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, 1024, axis=1)
    e = ac[:, 0]
    lo, hi = MIC_RATE // 400, MIC_RATE // 80
    # unbiased: a longer lag overlaps the window less (a low voice would otherwise look weak)
    peak = (ac[:, lo:hi] * (WIN / (WIN - np.arange(lo, hi)))).max(axis=1)
    return (e > 1e-3 * WIN) & (peak > VOICING * np.maximum(e, 1e-12))


def log_score(hyp) -> float:
    """A hypothesis' path score in pocketsphinx's own log base 1.0001 (the Python binding gives
    it exponentiated)."""
    import math

    return math.log(max(hyp.best_score, 1e-300)) / math.log(1.0001)


class Spotter:
    """Spoken commands in 16 kHz mono s16le chunks: a voiced stretch, once it ends, is decoded
    with the command grammar and kept only if it fits the grammar nearly as well as a free
    phone loop (pocketsphinx's allphone search) fits it."""

    def __init__(self, phrases: dict[str, tuple[str, float]] | None = None):
        from pocketsphinx import Decoder

        self.phrases = PHRASES if phrases is None else phrases
        self.decoder = Decoder(lm=None, samprate=MIC_RATE, logfn=os.devnull)
        self.decoder.add_jsgf_string("commands", jsgf(self.phrases))
        self.decoder.add_allphone_file("phones", None)   # uniform: acoustics alone
        self.last: tuple[str | None, float] = (None, 0.0)  # the last stretch: (phrase, confidence)
        self.reset()

    def reset(self) -> None:
        """Forget what was heard so far (a new silence starts from nothing)."""
        import numpy as np

        self._recent = np.zeros(0, dtype=np.int16)   # the last KEEP samples, never more
        self._fed = 0                  # samples since the silence started
        self._next = 0                 # sample where the next voicing window starts
        self._first = None             # sample of the current stretch's first voiced window
        self._last = None              # ... and its last
        self._voiced = 0               # voiced windows in the current stretch

    def feed(self, pcm: bytes) -> str | None:
        """The phrase heard in a stretch that ended with this chunk, or None."""
        import numpy as np

        x = np.frombuffer(pcm, dtype="<i2")
        self._recent = np.concatenate([self._recent, x])[-KEEP:]
        self._fed += len(x)
        base = self._fed - len(self._recent)
        # voicing of every whole window from self._next on (one sample before it for the
        # pre-emphasis)
        a = max(self._next - 1, base)
        flags = voiced_frames(self._recent[a - base:])
        starts = self._next + FRAME * np.arange(len(flags))
        if len(flags):
            self._next = int(starts[-1]) + FRAME
        for s in starts[flags]:
            s = int(s)
            if self._first is None:
                self._first = s
            self._last = s
            self._voiced += 1
        if self._first is None:
            return None
        hang = int(HANG * MIC_RATE)
        if self._fed - (self._last + WIN) < hang:
            return None
        lo = max(base, self._first - int(PAD_BEFORE * MIC_RATE))
        hi = min(self._fed, self._last + WIN + hang)
        seg = self._recent[lo - base: hi - base]
        enough = self._voiced * FRAME >= VOICED_MIN * MIC_RATE
        short = self._last - self._first <= MAX_VOICED * MIC_RATE
        self._drop()
        if not (enough and short):
            return None
        return self.decode(seg)

    def flush(self) -> str | None:
        """The silence ends (the session sounds again): the stretch heard so far, if any, is
        decoded now rather than lost (what the microphone heard before the gate closed holds
        none of the session's own sound), and everything is forgotten."""
        phrase = None
        if self._first is not None:
            base = self._fed - len(self._recent)
            lo = max(base, self._first - int(PAD_BEFORE * MIC_RATE))
            enough = self._voiced * FRAME >= VOICED_MIN * MIC_RATE
            if enough and self._last - self._first <= MAX_VOICED * MIC_RATE:
                phrase = self.decode(self._recent[lo - base:])
        self.reset()
        return phrase

    def _drop(self) -> None:
        self._first = self._last = None
        self._voiced = 0

    def _run(self, search: str, seg):
        d = self.decoder
        d.activate_search(search)
        d.start_utt()
        d.process_raw(seg.astype("<i2").tobytes(), False, True)
        d.end_utt()
        return d.hyp()

    def decode(self, seg) -> str | None:
        """The phrase the stretch `seg` (int16 samples) is, if it is one confidently enough."""
        said = self._run("commands", seg)
        if said is None or said.hypstr not in self.phrases:
            self.last = (None, 0.0)
            return None
        loop = self._run("phones", seg)
        frames = max(1, self.decoder.n_frames())
        conf = (log_score(said) - (log_score(loop) if loop else log_score(said))) / frames
        self.last = (said.hypstr, conf)
        return said.hypstr if conf >= self.phrases[said.hypstr][1] else None


class Gate:
    """Open only in a silence that began at least `tail` seconds ago, and not while held."""

    def __init__(self, tail: float = ECHO_TAIL):
        self.tail = tail
        self._closed_until = 0.0

    def update(self, now: float, quiet: bool) -> bool:
        if not quiet:
            self._closed_until = max(self._closed_until, now + self.tail)
            return False
        return now >= self._closed_until

    def hold(self, now: float, seconds: float) -> None:
        self._closed_until = max(self._closed_until, now + seconds)


def _open_capture():
    """The default microphone at MIC_RATE, mono, s16 (miniaudio, as the output); NoMicrophone
    when there is none."""
    from sisessions.play.device import _import_miniaudio

    try:
        ma = _import_miniaudio()
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise NoMicrophone(str(e)) from e
    backends = [b for b in ma.Backend if b not in (ma.Backend.NULL, ma.Backend.CUSTOM)]
    try:
        return ma.CaptureDevice(input_format=ma.SampleFormat.SIGNED16, nchannels=1, sample_rate=MIC_RATE,
                                buffersize_msec=PERIOD_MS, backends=backends, app_name="sisessions")
    except ma.MiniaudioError as e:
        raise NoMicrophone(str(e)) from e


class Listener:
    """Captures, gates, spots and acts; `news()` gives the lines to show."""

    def __init__(self, controller, mixer=None, phrases: dict[str, tuple[str, float]] | None = None):
        self.controller = controller
        self.mixer = mixer                     # play.tone.ToneMix, or None: no acknowledgement
        self.spotter = Spotter(phrases)
        self.gate = Gate()
        self.listening = False
        self.heard: list[tuple[float, str]] = []   # (time.monotonic(), phrase), for tests
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=20)
        self._news: deque[str] = deque(maxlen=64)
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.device = None

    def start(self) -> None:
        self.device = _open_capture()
        gen = self._capture()
        next(gen)
        try:
            self.device.start(gen)
        except Exception as e:
            self.device.close()
            raise NoMicrophone(str(e)) from e
        self._thread = threading.Thread(target=self._run, name="listen", daemon=True)
        self._thread.start()

    def _capture(self):
        # the audio thread only hands chunks over; a full queue (a stalled machine) drops them
        while True:
            data = yield
            with contextlib.suppress(queue.Full):
                self._chunks.put_nowait(bytes(data))

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                chunk = self._chunks.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.step(chunk, time.monotonic())
            except Exception:  # pragma: no cover - listening never takes the session down
                self.listening = False
                return

    def step(self, chunk: bytes, now: float) -> str | None:
        """One captured chunk: dropped unless the gate is open, else spotted; returns the
        phrase acted on, if any."""
        if not self.gate.update(now, self.controller.quiet()):
            if self.listening:
                self.listening = False
                # a command said just before the session sounds again still counts
                phrase = self.spotter.flush()
                if phrase is not None:
                    self.act(phrase, now)
                    return phrase
            return None
        if not self.listening:
            self.listening = True
            self._news.append(LISTENING)
        phrase = self.spotter.feed(chunk)
        if phrase is None:
            return None
        self.act(phrase, now)
        return phrase

    def act(self, phrase: str, now: float) -> None:
        action, _ = self.spotter.phrases[phrase]
        self.controller.do(Command(action))
        self.heard.append((time.monotonic(), phrase))
        self._news.append(f"heard \"{phrase}\"")
        if self.mixer is not None:
            from sisessions.play.tone import SECONDS

            self.mixer.ring()
            # the tone itself comes back through the microphone: not listened to
            self.gate.hold(now, SECONDS + self.gate.tail)
        self.listening = False
        self.spotter.reset()

    def news(self) -> list[str]:
        out = []
        while self._news:
            out.append(self._news.popleft())
        return out

    def close(self) -> None:
        self._closed.set()
        if self.device is not None:
            with contextlib.suppress(Exception):
                self.device.close()
        if self._thread is not None:
            self._thread.join(timeout=2)


def start(controller, mixer=None) -> Listener | None:
    """Listening from now on, or None when there is no microphone (the session plays on)."""
    listener = Listener(controller, mixer)
    try:
        listener.start()
    except NoMicrophone:
        return None
    return listener
