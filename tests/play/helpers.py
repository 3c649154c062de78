"""What the play tests share: the fixture sessions, the voice they are played in, the session
as export renders it, `play` on a pseudo-terminal, and the recorded spoken commands."""
from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from sisessions import app
from sisessions.audio import ffmpeg_exe
from sisessions.output.render import render
from tests.audio_server import PulseServer
from tests.conftest import FIXTURES

SCRIPTS = FIXTURES / "play"
# espeak at a brisk rate keeps the fixture to seconds; the player does not care which voice
VOICE = ("--engine", "espeak", "--rate", "200")
CHOICES = app.Choices(engine="espeak", rate=200)
SAFETY_START = "A short reminder"
# The person: the default Piper voice saying each command, recorded once into fixtures (Piper
# varies from take to take, so a fresh take per run made these tests a lottery; the benchmark,
# benchmarks/listen.py, measures the recogniser over many voices and takes instead).
SPOKEN = FIXTURES / "spoken"
ROOM = "room"   # the null sink the microphone hears (see conftest's `room`)


def rendered(start_pattern: str | None = None) -> np.ndarray:
    """The session as `export` renders it (from the first cue of `start_pattern`)."""
    prepared = app.prepare(app.open_library((str(SCRIPTS),)), "short", CHOICES)
    with app.speech_session(CHOICES, None) as speech:
        tl = app.plan(prepared, speech)
        start = 0 if start_pattern is None else next(
            i for i, c in enumerate(tl.cues) if c.pattern == start_pattern)
        pcm = b"".join(render(tl, speech, start))
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def play_args(*extra) -> list[str]:
    return [sys.executable, "-m", "sisessions", "--scripts", str(SCRIPTS), "play", "short", *VOICE, *extra]


def child_env() -> dict:
    env = dict(os.environ)
    env.pop("SISESSIONS_DEBUG", None)  # the user's view: one-line errors
    return env


class Pty:
    """`play` with a pseudo-terminal as its stdin and stdout, as when run in a terminal."""

    def __init__(self, *extra, args: list[str] | None = None):
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(args or play_args(*extra), env=child_env(), stdin=slave, stdout=slave,
                                     stderr=subprocess.PIPE, start_new_session=True)
        os.close(slave)
        self.out = bytearray()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            self.out += data

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out:
            assert time.monotonic() < deadline, f"never showed {text!r}: {bytes(self.out)[-500:]!r}"
            assert self.proc.poll() is None, self.proc.stderr.read()
            time.sleep(0.02)

    def key(self, k: str) -> None:
        os.write(self.master, k.encode())

    def finish(self, timeout: float = 20) -> int:
        rc = self.proc.wait(timeout)
        self._t.join(2)
        os.close(self.master)
        return rc


def spoken(word: str) -> Path:
    return SPOKEN / f"{word}.wav"


def say(room: PulseServer, word: str) -> float:
    """Speak `word` into the room (the Piper voice's recorded take, played with paplay); returns
    time.monotonic() when it has been played."""
    path = spoken(word)
    subprocess.run(["paplay", f"--device={ROOM}", str(path)], env=room.client_env(), check=True, timeout=20)
    return time.monotonic()


def to16k(path) -> bytes:
    return subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "s16le", "-ar", "16000", "-ac", "1", "-"],
                          capture_output=True, check=True).stdout
