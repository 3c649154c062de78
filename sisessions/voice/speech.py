"""Spoken clips for texts: from the cache, or synthesized by engine workers and cached."""
from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable

from sisessions.audio import FRAME_BYTES
from sisessions.errors import EngineError
from sisessions.voice.cache import HEADER, Cache
from sisessions.voice.engines.base import SpeechSettings, Worker, engine_timeout


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class Speech:
    """One voice (engine, voice, rate) over one cache. Workers start only on a cache miss."""

    def __init__(self, settings: SpeechSettings, cache: Cache, jobs: int | None = None, nice: int = 0):
        self.settings = settings
        self.nice = nice          # workers this much nicer than us (play: synthesis yields to the audio)
        self.cache = cache
        self.jobs = jobs or default_jobs()
        self._workers: list[Worker] = []
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._tmp: Path | None = None
        self._known: dict[str, tuple[Path, int]] = {}
        self._lock = threading.Lock()

    # -- lookups
    def lookup(self, text: str) -> tuple[Path, int] | None:
        hit = self._known.get(text)
        if hit is None:
            hit = self.cache.get(self.cache.key(self.settings, text))
            if hit is not None:
                self._known[text] = hit
        return hit

    def get(self, text: str) -> tuple[Path, int]:
        return self.lookup(text) or self._synthesize(text)

    def frames(self, text: str) -> int:
        return self.get(text)[1]

    def samples(self, text: str) -> bytes:
        """The clip's samples (s16 mono, no header). A clip that left the cache after it was
        found (`cache clear` during a play or an export, a file removed by hand) is a cache
        miss like any other: it is made again, never an error."""
        for _attempt in range(3):
            path, frames = self.get(text)
            try:
                data = path.read_bytes()
            except (FileNotFoundError, NotADirectoryError):
                data = b""
            size = frames * FRAME_BYTES
            if len(data) >= size + HEADER:
                return data[len(data) - size:]
            self._known.pop(text, None)  # gone or cut short: look again, or make it again
        raise EngineError(f"the spoken clip for \"{text[:40]}\" kept disappearing from the cache at {self.cache.root}")

    def missing(self, texts: Iterable[str]) -> list[str]:
        return [t for t in dict.fromkeys(texts) if self.lookup(t) is None]

    def ensure(self, texts: Iterable[str], progress: Callable[[str], None] | None = None) -> int:
        """Synthesize every text not cached yet, in parallel; returns how many were made."""
        todo = self.missing(texts)
        if not todo:
            return 0
        jobs = min(self.jobs, len(todo))
        if jobs == 1:
            for t in todo:
                self._synthesize(t)
                if progress:
                    progress(t)
            return len(todo)
        # After a failure (a hung or crashed engine) no thread starts another line: each would
        # wait out its own timeout, twice, before the one sentence is said.
        failed = threading.Event()

        def one(t: str) -> str:
            if not failed.is_set():
                try:
                    self._synthesize(t)
                except BaseException:
                    failed.set()
                    raise
            return t

        pool = ThreadPoolExecutor(jobs)
        try:
            for t in pool.map(one, todo):
                if progress:
                    progress(t)
        except BaseException:
            failed.set()  # Ctrl-C in this thread: the same
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return len(todo)

    # -- synthesis
    def _worker(self) -> Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            w = Worker(self.settings, self.nice)
            self._workers.append(w)
            return w

    def _synthesize(self, text: str) -> tuple[Path, int]:
        with self._lock:
            if self._tmp is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="sisessions-"))
        from sisessions.voice import (
            phrasing,  # each phrase alone: clip.assemble paces the gaps
        )

        phrases = phrasing.split(text)
        outs = []
        for _ in phrases:
            fd, out = tempfile.mkstemp(suffix=".wav", dir=self._tmp)
            os.close(fd)
            outs.append(out)
        try:
            for attempt in (1, 2):
                w = self._worker()
                try:
                    for ph, out in zip(phrases, outs):
                        w.request({"op": "synth", "text": ph.text, "out": out}, engine_timeout(ph.text))
                    break
                except EngineError:
                    # A worker that failed, crashed or hung is never reused: whatever it left
                    # pending could end up in a later clip. One fresh worker gets a second try.
                    w.close(kill=True)
                    if attempt == 2:
                        raise
            self._idle.put(w)
            from sisessions.voice import (
                clip,  # pydub is only needed when something is synthesized
            )

            pcm = clip.assemble([Path(o) for o in outs], phrases, self.settings.rate)
        finally:
            for out in outs:
                try:
                    os.unlink(out)
                except OSError:
                    pass
        hit = self.cache.put(self.cache.key(self.settings, text), pcm)
        self._known[text] = hit
        return hit

    def close(self) -> None:
        for w in self._workers:
            w.close()
        self._workers.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
