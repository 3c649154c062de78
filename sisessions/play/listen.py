"""Spoken commands (`play --listen`): the default microphone, heard only in the session's
silences, through pocketsphinx's keyword spotting; each command acts on the one controller.

Why it is shaped like this:
- pocketsphinx ships its US English model in the wheel, so nothing is downloaded and nothing
  leaves the machine. Keyword spotting (not free dictation) looks only for our few words, each
  with its own threshold (benchmarks/listen.py measured and tuned them).
- The microphone is read only to be thrown away unless the gate is open: while the voice
  speaks, and for ECHO_TAIL after (the room's echo and the output's queue), captured audio is
  dropped unheard, so the session's own voice cannot trigger it. Nothing is written or kept:
  each chunk is fed to the decoder and dropped.
- A command is acknowledged by play.tone through the same output the session uses.
"""
from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
import time
from collections import deque

from sisessions.errors import UsageError
from sisessions.play.display import View

MIC_RATE = 16000          # the rate pocketsphinx's acoustic model was trained at
PERIOD_MS = 100           # one capture chunk: the gate and the decoder step by this
ECHO_TAIL = 0.5           # seconds after the last sound before listening again
NO_MICROPHONE = "no microphone: playing without listening"
INSTALL = ("spoken commands need the pocketsphinx recogniser: "
           "pip install 'pocketsphinx>=5,<6' (or `bash setup.sh`)")
LISTENING = "listening"

# What each spoken word does (a method of play.controls.Controller), and its keyword-spotting
# threshold: lower accepts weaker matches. Chosen by `benchmarks/listen.py --tune` on its take A
# (the strictest level with the most detections and no false trigger; README has the figures).
# "resume" measured better than "continue" and is kept as an alternate; "skip" measured worse
# than "next" and is left out.
PHRASES: dict[str, tuple[str, float]] = {
    "pause": ("pause", 1e-10),
    "continue": ("resume", 1e-10),
    "resume": ("resume", 1e-15),
    "next": ("next", 1e-10),
    "back": ("back", 1e-5),
    "repeat": ("repeat", 1e-15),
    "stop": ("stop", 1e-15),
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


def kws_lines(phrases: dict[str, tuple[str, float]]) -> str:
    """pocketsphinx's keyphrase file: one `phrase /threshold/` a line."""
    return "".join(f"{p} /{thr:.0e}/\n" for p, (_, thr) in phrases.items())


FRAME = MIC_RATE // 100        # pocketsphinx's frames are 10 ms
KEEP = 2 * MIC_RATE            # samples of the current silence held in memory to check a match
VOICED_MIN = 0.02              # seconds of voiced sound a match must have (noise and breath: none)


def voiced_seconds(x) -> float:
    """How long `x` (int16 samples at MIC_RATE) is voiced: 30 ms windows whose pre-emphasised
    autocorrelation has a clear peak at a pitch period (80-400 Hz) and that are not far below
    the loudest window. Breath and room noise are unvoiced, so a keyword "heard" in them is
    refused; a spoken command always has a vowel."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    x = x[1:] - 0.95 * x[:-1]          # pre-emphasis: low rumble would look periodic otherwise
    win, hop = int(0.03 * MIC_RATE), FRAME
    if len(x) < win:
        return 0.0
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]
    energy = (frames ** 2).sum(axis=1)
    loud = energy > energy.max() * 10 ** (-25 / 10)
    lo, hi = MIC_RATE // 400, MIC_RATE // 80
    voiced = 0
    for f, ok in zip(frames, loud):
        if not ok:
            continue
        f = f - f.mean()
        e = float((f * f).sum())
        if e <= 0:
            continue
        ac = np.array([(f[:-k] * f[k:]).sum() for k in range(lo, hi)])
        if ac.max() / e > 0.45:
            voiced += 1
    return voiced * hop / MIC_RATE


class Spotter:
    """pocketsphinx's keyword spotting over 16 kHz mono s16le chunks; a match must be voiced."""

    def __init__(self, phrases: dict[str, tuple[str, float]] | None = None):
        from pocketsphinx import Decoder

        self.phrases = PHRASES if phrases is None else phrases
        # pocketsphinx takes per-phrase thresholds only from a file: a temp file, removed at once
        fd, path = tempfile.mkstemp(prefix="sisessions-kws-", suffix=".txt")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(kws_lines(self.phrases))
            self.decoder = Decoder(lm=None, kws=path, samprate=MIC_RATE, logfn=os.devnull)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.decoder.start_utt()
        self._recent = bytearray()     # the last KEEP samples of this utterance, never more
        self._fed = 0                  # samples since the utterance started

    def feed(self, pcm: bytes) -> str | None:
        """The phrase heard in this chunk (after the ones before it), or None."""
        d = self.decoder
        d.process_raw(pcm, False, False)
        self._recent += pcm
        del self._recent[: max(0, len(self._recent) - 2 * KEEP)]
        self._fed += len(pcm) // 2
        if d.hyp() is None:
            return None
        segs = [(s.word.strip(), s.start_frame, s.end_frame) for s in d.seg()]
        recent, first = bytes(self._recent), self._fed - len(self._recent) // 2
        self.reset()
        import numpy as np

        samples = np.frombuffer(recent, dtype="<i2")
        # two phrases can end in one chunk: the first to end is what was said first
        for word, a, b in segs:
            if word not in self.phrases:
                continue
            seg = samples[max(0, (a - 10) * FRAME - first): max(0, (b + 10) * FRAME - first)]
            if voiced_seconds(seg) >= VOICED_MIN:
                return word
        return None

    def reset(self) -> None:
        """Forget what was heard so far (a new silence starts from nothing)."""
        self.decoder.end_utt()
        self.decoder.start_utt()
        self._recent = bytearray()
        self._fed = 0


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
                self.spotter.reset()
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
        getattr(self.controller, action)()
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


class ListeningView(View):
    """The terminal's status line says "listening" while the microphone is heard."""

    def __init__(self, program, feeder, title: str, listener: Listener):
        super().__init__(program, feeder, title)
        self.listener = listener

    def state(self) -> str:
        s = super().state()
        if not self.listener.listening:
            return s
        return f"{s} · {LISTENING}" if s else LISTENING


def start(controller, mixer=None) -> Listener | None:
    """Listening from now on, or None when there is no microphone (the session plays on)."""
    listener = Listener(controller, mixer)
    try:
        listener.start()
    except NoMicrophone:
        return None
    return listener
