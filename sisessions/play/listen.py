"""Spoken commands and spoken answers (`play --listen`): the default microphone, heard only in
the session's silences; each voiced stretch is decoded (play.spotter) against one small grammar,
and what is heard acts on the one controller or answers a closed question.

Why it is shaped like this:
- The microphone is read only to be thrown away unless the gate is open: while the voice
  speaks, and for ECHO_TAIL after (the room's echo and the output's queue), captured audio is
  dropped unheard, so the session's own voice cannot trigger it. Nothing is written.
- A command that ends or skips ("stop", "next"/"skip", "back") is never acted on as heard: a
  confusion (another command, a breath) must not end the session. The session pauses and the
  voice asks (PROMPTS: "Stop the session? Say yes to stop, or no to go on."); only "yes" does
  it. "no", "continue" or no answer within CONFIRM_WAIT goes on where it was. The yes is heard
  with the commands in the grammar, so a command said again is heard as itself, not as "yes".
- Closed questions (`Listener.ask`): "left"/"right"/"same" and the numbers zero..ten, heard
  under the same rules; meanwhile only the asked kind's answers count.
- Everything heard is acknowledged by sources.tone through the same output the session uses.
"""
from __future__ import annotations

import contextlib
import queue
import threading
import time
import wave
from array import array
from collections import deque

from sisessions.errors import UsageError
from sisessions.play.controls import Command
from sisessions.play.spotter import ANSWERS, CONFIRM, MIC_RATE, PHRASES, Spotter

__all__ = ["ANSWERS", "CONFIRM", "MIC_RATE", "PHRASES", "Spotter", "Listener", "Gate", "start", "check_installed"]

PERIOD_MS = 100           # one capture chunk: the gate and the decoder step by this
ECHO_TAIL = 0.5           # seconds after the last sound before listening again
CONFIRM_WAIT = 10.0       # seconds after the confirmation's question to say "yes"
NO_MICROPHONE = "no microphone: playing without listening"
INSTALL = ("spoken commands need the pocketsphinx recogniser: "
           "pip install 'pocketsphinx>=5,<6' (or `bash setup.sh`)")
LISTENING = "listening"

# The actions that end or skip, and the question that confirms each (said by the session's voice).
PROMPTS: dict[str, str] = {
    "stop": "Stop the session? Say yes to stop, or no to go on.",
    "next": "Go on to the next pattern? Say yes, or no.",
    "back": "Back to the start of this pattern? Say yes, or no.",
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


class _Question:
    def __init__(self, kind: str):
        self.kind = kind
        self.answer: object = None
        self.heard = threading.Event()


class Listener:
    """Captures, gates, spots and acts; `news()` gives the lines to show; `ask()` asks."""

    def __init__(self, controller, mixer=None, phrases: dict[str, tuple[str, float]] | None = None):
        self.controller = controller
        self.mixer = mixer                     # sources.tone.ToneMix, or None: no acknowledgement
        self.spotter = Spotter(phrases)
        self.gate = Gate()
        self.listening = False
        self.heard: list[tuple[float, str]] = []   # (time.monotonic(), phrase), for tests
        self.prompts: dict[str, array] = {}    # action -> its confirmation's question, as samples
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=20)
        self._news: deque[str] = deque(maxlen=64)
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._question: _Question | None = None
        # an ending command waiting for its "yes": (action, give up at, whether it paused)
        self._pending: tuple[str, float, bool] | None = None
        self.device = None

    # -- the closed questions (called by the session, from any thread but the listener's)
    def ask(self, kind: str, timeout: float, cancel: threading.Event | None = None):
        """Wait for a spoken answer to a closed question and return it.

        kind "side": "left", "right" or "same" (str); kind "pain": 0..10 (int, from the words
        "zero".."ten"). Returns None when nothing was heard within `timeout` seconds, when
        `cancel` is set (e.g. a key answered first: set it from the key loop), or once the
        listener is closed. Call it after the question has been spoken (the microphone is heard
        only while `controller.quiet()`, from ECHO_TAIL after the last sound: pause the feeder
        or be in a silence). While it waits only that kind's answers count and no command is
        acted on (for "side" a command said is heard as itself and ignored; for "pain" the
        grammar is the numbers alone, as recognition of them is best so, and a word that is
        not a number may be taken for one: say back what was recorded); the answer is
        acknowledged by the tone and shown as `heard "left"` in `news()`. Blocks the caller; nothing heard is stored. Example, from the session's loop:

            result = listener.ask("side", 30)        # "left" | "right" | "same" | None
            pain = listener.ask("pain", 30)          # 0..10 | None
        """
        if kind not in ANSWERS:
            raise ValueError(f"no question kind {kind!r}: one of {', '.join(ANSWERS)}")
        q = _Question(kind)
        with self._lock:
            self._question = q
        try:
            deadline = time.monotonic() + timeout
            while not q.heard.wait(max(0.0, min(0.05, deadline - time.monotonic()))):
                if (cancel is not None and cancel.is_set()) or self._closed.is_set():
                    return None
                if time.monotonic() >= deadline:
                    return None
            return q.answer
        finally:
            with self._lock:
                if self._question is q:
                    self._question = None

    # -- capture
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

    def _grammar(self, now: float) -> str:
        """What is listened for now: a question's answers, a confirmation, or the commands."""
        with self._lock:
            q = self._question
        if q is not None and not q.heard.is_set():
            return q.kind
        if self._pending is not None and now >= self._pending[1]:
            self._cancel("no answer: going on")
        return "confirm" if self._pending is not None else "commands"

    def step(self, chunk: bytes, now: float) -> str | None:
        """One captured chunk: dropped unless the gate is open, else spotted; returns the
        phrase acted on, if any."""
        self.spotter.use(self._grammar(now))
        if not self.gate.update(now, self.controller.quiet()):
            if self.listening:
                self.listening = False
                # a phrase said just before the session sounds again still counts
                phrase = self.spotter.flush()
                if phrase is not None and self.act(phrase, now):
                    return phrase
            return None
        if not self.listening:
            self.listening = True
            self._news.append(LISTENING)
        phrase = self.spotter.feed(chunk)
        if phrase is None or not self.act(phrase, now):
            return None
        return phrase

    # -- acting on what was heard
    def act(self, phrase: str, now: float) -> bool:
        """Do what `phrase` says; False when it says nothing now (a command while a question
        waits for its answer)."""
        grammar = self.spotter.active
        if grammar in ANSWERS and phrase not in ANSWERS[grammar]:
            self.spotter.reset()    # a command said while a question waits: not an answer
            return False
        self.heard.append((time.monotonic(), phrase))
        self._news.append(f"heard \"{phrase}\"")
        if grammar in ANSWERS:
            with self._lock:
                q = self._question
            if q is not None and q.kind == grammar:
                q.answer = ANSWERS[grammar][phrase]
                q.heard.set()
            self._ring(now)
        elif phrase in CONFIRM:
            if self._pending is not None and CONFIRM[phrase]:
                action, _, paused_here = self._pending
                self._pending = None
                self._ring(now)
                self.controller.do(Command(action))
                if action != "stop" and paused_here:
                    self.controller.resume()
            else:
                self._ring(now)
                self._cancel(None)
        else:
            action, _ = self.spotter.phrases[phrase]
            if action in PROMPTS:
                self._confirm(action, now)
            else:
                if action == "pause":
                    self._pending = None  # paused it stays
                else:
                    self._cancel(None)    # goes on where it was, then does what was said
                self._ring(now)
                self.controller.do(Command(action))
        self.listening = False
        self.spotter.reset()
        return True

    def _confirm(self, action: str, now: float) -> None:
        """An ending command was heard: pause and ask for "yes" (the question said again when
        asked again)."""
        paused_here = self._pending[2] if self._pending is not None else not self.controller.paused
        self.controller.pause()
        seconds = self._ring(now, self.prompts.get(action))
        self._pending = (action, now + seconds + CONFIRM_WAIT, paused_here)
        self._news.append(f"say yes to {action}, or no to go on")

    def _cancel(self, why: str | None) -> None:
        if self._pending is None:
            return
        _, _, paused_here = self._pending
        self._pending = None
        if why:
            self._news.append(why)
        if paused_here:
            self.controller.resume()

    def _ring(self, now: float, samples=None) -> float:
        """The tone (or a spoken question) through the output; the gate stays closed while it
        sounds and for the echo tail. Returns how long it sounds."""
        from sisessions.audio import RATE
        from sisessions.sources.tone import SECONDS

        seconds = 0.0
        if self.mixer is not None:
            seconds = SECONDS if samples is None else len(samples) / RATE
            self.mixer.ring(samples)
        # it comes back through the microphone: not listened to; nor the breath after the word
        self.gate.hold(now, seconds + self.gate.tail)
        return seconds

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


def _prompt_samples(speech) -> dict[str, array]:
    """The confirmations' questions in the session's voice (cached like every line)."""
    from sisessions.audio import RATE

    out = {}
    for action, text in PROMPTS.items():
        path, _ = speech.get(text)
        with wave.open(str(path), "rb") as w:
            if w.getframerate() != RATE or w.getsampwidth() != 2 or w.getnchannels() != 1:
                continue
            out[action] = array("h", w.readframes(w.getnframes()))
    return out


def start(controller, mixer=None, speech=None) -> Listener | None:
    """Listening from now on, or None when there is no microphone (the session plays on). With
    `speech` (voice.speech.Speech), the confirmations' questions are said in that voice
    (voiced in the background; until then, and without it, only the tone asks)."""
    listener = Listener(controller, mixer)
    try:
        listener.start()
    except NoMicrophone:
        return None
    if speech is not None and mixer is not None:
        def voice():
            with contextlib.suppress(Exception):  # no voice for them: the tone still asks
                listener.prompts.update(_prompt_samples(speech))

        threading.Thread(target=voice, name="listen-prompts", daemon=True).start()
    return listener
