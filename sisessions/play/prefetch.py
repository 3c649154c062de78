"""The clip prefetcher: voice threads synthesize lines ahead of the playing position (nearest
first) and keep the few clips due next in memory, so the audio thread only ever copies bytes."""
from __future__ import annotations

import bisect
import os
import threading
import time

from sisessions.errors import SisessionsError, UsageError
from sisessions.plan.timeline import CHIME_FRAMES, Kind
from sisessions.play.program import Program

AHEAD = 6                       # distinct lines kept loaded ahead of the playing position
VOICE_THREADS = 2               # lines made at once on a cold cache (each has its own worker)


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
        self._needs_chime = any(e.kind == Kind.CHIME for e in program.events)
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
        if start < len(self.program.events) and self.program.events[start].kind == Kind.CHIME:
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
            try:
                self._load(text, hit)
            except Exception as e:  # noqa: BLE001 - one line left silent, as a failed synthesis
                return self._failed(text, e)
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
        """The clip's samples in memory; one cleared from the cache since is made again."""
        self._pcm[text] = self.speech.samples(text)

    def _make_chime(self) -> None:
        from sisessions.sources.chime import chime_pcm

        self._chime = chime_pcm(CHIME_FRAMES)

