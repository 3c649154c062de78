"""The engine interface, the registry, and the client that talks to an engine's worker process.

Every engine runs in a worker process of its own (`python -m sisessions.voice.engines.worker`):
pyttsx3's espeak-ng library and piper-tts crashed one process when loaded together, an engine
that crashes or hangs must never take the session down, and pyttsx3's chatter on stdout
stays out of the user's terminal. The parent never imports an engine library: everything the
cache key needs (version, voice identity, settings) is computed without loading one.
"""
from __future__ import annotations

import abc
import contextlib
import importlib
import importlib.metadata
import importlib.util
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass
from typing import Any

from sisessions.errors import EngineError, UsageError

# The engines in order of preference: the first installed one is the default.
REGISTRY: dict[str, str] = {
    "piper": "sisessions.voice.engines.piper:PiperEngine",
    "espeak": "sisessions.voice.engines.espeak:EspeakEngine",
}


@dataclass(frozen=True)
class SpeechSettings:
    """Every knob that changes a clip; with the text and format it makes the cache key."""

    engine: str
    engine_version: str
    voice: str           # what the user chose (name or path), resolved
    voice_id: str        # a stable identity of the voice (a model file's hash, a voice id)
    rate: int            # requested words per minute
    params: tuple = ()   # the engine's own settings derived from the rate (sorted pairs)

    def key_fields(self) -> dict[str, Any]:
        d = asdict(self)
        d["params"] = [list(p) for p in self.params]
        return d


class Engine(abc.ABC):
    """Parent-side description of an engine. Cheap: it never loads the engine's library."""

    name = ""
    label = ""
    install_hint = ""
    requires: tuple[str, ...] = ()          # importable modules that must be present
    synth_class = ""                        # "module:Class" run inside the worker

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def missing_message(self) -> str:
        return f"the {self.name} engine is not installed: {self.install_hint}"

    @abc.abstractmethod
    def version(self) -> str:
        """The engine's version: part of every cache key."""

    @abc.abstractmethod
    def resolve_voice(self, voice: str | None) -> tuple[str, str]:
        """(voice, voice identity) for the user's --voice (None: the engine's default)."""

    @abc.abstractmethod
    def params_for_rate(self, wpm: int) -> dict[str, Any]:
        """The engine's own settings that make speech come out at `wpm` words per minute."""

    def settings(self, voice: str | None, rate: int) -> SpeechSettings:
        if not self.installed():
            raise EngineError(self.missing_message())
        v, vid = self.resolve_voice(voice)
        params = tuple(sorted(self.params_for_rate(rate).items()))
        return SpeechSettings(self.name, self.version(), v, vid, rate, params)


def _load_class(spec: str):
    mod, _, cls = spec.partition(":")
    return getattr(importlib.import_module(mod), cls)


def engine_names() -> list[str]:
    return list(REGISTRY)


def get_engine(name: str | None = None) -> Engine:
    """The named engine, or the first installed one. Unknown names are the user's mistake."""
    if name is None:
        engines = [_load_class(spec)() for spec in REGISTRY.values()]
        for e in engines:
            if e.installed():
                return e
        raise EngineError("no voice engine is installed: " + "; or ".join(e.install_hint for e in engines))
    if name not in REGISTRY:
        raise UsageError(f"unknown engine '{name}'; choose one of: {', '.join(REGISTRY)}")
    return _load_class(REGISTRY[name])()


def dist_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# ---------------------------------------------------------------- the worker client


def engine_timeout(text: str) -> float:
    """How long one utterance may take before the engine counts as hung."""
    base = float(os.environ.get("SISESSIONS_ENGINE_TIMEOUT", "60"))
    return base + 0.05 * len(text)


class Worker:
    """One engine worker process; requests are JSON lines, answers are JSON lines."""

    def __init__(self, settings: SpeechSettings, nice: int = 0):
        self.settings = settings
        self._lock = threading.Lock()
        self._err = tempfile.TemporaryFile()
        engine = get_engine(settings.engine)
        args = json.dumps({"synth": engine.synth_class, "voice": settings.voice,
                           "params": dict(settings.params)})
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sisessions.voice.engines.worker", args],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err,
                start_new_session=True,  # Ctrl-C reaches the parent only, which then stops us
            )
        except OSError as e:
            raise EngineError(f"could not start the {settings.engine} engine ({e})") from e
        if nice > 0:  # lowering one's own child's priority is always allowed
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, self.proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def request(self, msg: dict, timeout: float) -> dict:
        with self._lock:
            return self._request(msg, timeout)

    def _request(self, msg: dict, timeout: float) -> dict:
        name = self.settings.engine
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._died()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.close(kill=True)
            raise EngineError(f"the {name} engine did not answer within {timeout:.0f} s and was stopped")
        line = self.proc.stdout.readline()
        if not line:
            self._died()
        try:
            answer = json.loads(line)
        except ValueError:
            self.close(kill=True)
            raise EngineError(f"the {name} engine gave an answer that could not be read") from None
        if not answer.get("ok"):
            if answer.get("usage"):
                raise UsageError(answer.get("error", "bad engine setting"))
            raise EngineError(f"the {name} engine failed: {answer.get('error', 'no reason given')}")
        return answer

    def _died(self):
        name = self.settings.engine
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.close(kill=True)
            code = None
        detail = _exit_detail(code)
        last = self.stderr_tail()
        if last and os.environ.get("SISESSIONS_DEBUG"):
            detail += f"; it said: {last}"
        raise EngineError(f"the {name} engine stopped unexpectedly ({detail})")

    def stderr_tail(self) -> str:
        try:
            self._err.seek(0)
            lines = self._err.read().decode(errors="replace").strip().splitlines()
            return lines[-1] if lines else ""
        except (OSError, ValueError):
            return ""

    def close(self, kill: bool = False) -> None:
        if self.proc.poll() is None:
            try:
                if kill:
                    self.proc.kill()
                else:
                    self.proc.stdin.close()
                    try:
                        self.proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        self.proc.kill()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass
        for f in (self.proc.stdin, self.proc.stdout, self._err):
            try:
                f.close()
            except (OSError, ValueError, AttributeError):
                pass


def voices(engine: Engine) -> list[dict]:
    """The voices an installed engine offers (each {"id", "name"}), asked of a worker of its own:
    only a worker ever loads an engine's library."""
    from sisessions.choices import DEFAULT_RATE  # any rate opens a worker; the default is one

    w = Worker(engine.settings(None, DEFAULT_RATE))
    try:
        return w.request({"op": "voices"}, engine_timeout(""))["voices"]
    finally:
        w.close()


def _exit_detail(code: int | None) -> str:
    if code is None:
        return "it would not exit"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit {code}"
