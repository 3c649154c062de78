"""A private PulseAudio server with a null sink, and a recorder of what it plays, for tests.

The server runs as this user (root included: --system=false and anonymous auth on its own
socket) with its own HOME and runtime folder under a temp dir, so it never meets a desktop
session's server. A "keeper" recorder stays attached to the sink's monitor at low latency:
without a reader, a null sink consumes audio in bursts of up to two seconds.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

RATE = 22050
SINK = "test"


class PulseServer:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.run_dir = self.root / "run"
        self.home = self.root / "home"
        self.socket = self.run_dir / "native"
        self.proc: subprocess.Popen | None = None
        self.keeper: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        """What a client needs to reach this server (and only this one)."""
        return {"PULSE_SERVER": f"unix:{self.socket}", "XDG_RUNTIME_DIR": str(self.run_dir),
                "PULSE_SINK": SINK}

    def start(self) -> "PulseServer":
        for exe in ("pulseaudio", "parec", "pactl"):
            if shutil.which(exe) is None:
                raise RuntimeError(f"{exe} is missing: `bash setup.sh --test` installs pulseaudio and pulseaudio-utils")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        os.chmod(self.run_dir, 0o700)
        env = dict(os.environ, HOME=str(self.home), XDG_RUNTIME_DIR=str(self.run_dir),
                   XDG_CONFIG_HOME=str(self.home / ".config"), PULSE_RUNTIME_PATH=str(self.run_dir / "pulse"))
        env.pop("PULSE_SERVER", None)
        self.log = open(self.root / "pulseaudio.log", "wb")
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--system=false", "--exit-idle-time=-1",
             "--use-pid-file=false", "--disallow-exit", "--log-target=stderr",
             "-L", f"module-null-sink sink_name={SINK}",
             "-L", f"module-native-protocol-unix auth-anonymous=1 socket={self.socket}"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {(self.root / 'pulseaudio.log').read_text()[-2000:]}")
            if self.socket.exists() and self.pactl("info").returncode == 0:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("pulseaudio did not start within 15 s")
        self.keeper = subprocess.Popen(["parec", "--latency-msec=20", "-d", f"{SINK}.monitor", "--raw"],
                                       env=self.client_env(), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(0.3)
        return self

    def client_env(self) -> dict[str, str]:
        return dict(os.environ, **self.env)

    def pactl(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env=self.client_env(), capture_output=True, timeout=10)

    def stop(self) -> None:
        for p in (self.keeper, self.proc):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if getattr(self, "log", None):
            self.log.close()

    def kill(self) -> None:
        """The server disappears at once, as when a device is unplugged or a server crashes."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


class Recorder:
    """Records the sink's monitor (s16 mono at RATE) and maps samples to time.monotonic()."""

    def __init__(self, server: PulseServer):
        self.server = server
        self.chunks: list[bytes] = []
        self._t0: float | None = None
        self._frames = 0

    def __enter__(self) -> "Recorder":
        self.proc = subprocess.Popen(
            ["parec", "--latency-msec=10", "-d", f"{SINK}.monitor", "--raw", "--format=s16le",
             f"--rate={RATE}", "--channels=1"],
            env=self.server.client_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 5
        while self._frames < RATE // 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def _read(self) -> None:
        fd = self.proc.stdout.fileno()
        while True:
            data = os.read(fd, 4096)
            if not data:
                return
            now = time.monotonic()
            self.chunks.append(data)
            self._frames += len(data) // 2
            # data can arrive late, never early: the earliest estimate of sample 0 is the best
            t0 = now - self._frames / RATE
            self._t0 = t0 if self._t0 is None else min(self._t0, t0)

    def __exit__(self, *exc) -> None:
        time.sleep(0.2)
        self.proc.terminate()
        self.proc.wait(5)
        self._thread.join(5)

    @property
    def samples(self) -> np.ndarray:
        data = b"".join(self.chunks)
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float64)

    def time_of(self, sample: int) -> float:
        return self._t0 + sample / RATE

    def sample_at(self, t: float) -> int:
        return max(0, int(round((t - self._t0) * RATE)))


# ---------------------------------------------------------------- comparing sound

WINDOW = RATE // 50  # 20 ms


def envelope(x: np.ndarray, win: int = WINDOW) -> np.ndarray:
    n = len(x) // win
    if n == 0:
        return np.zeros(0)
    x = x[: n * win].reshape(n, win)
    return np.sqrt((x ** 2).mean(axis=1))


def best_match(heard: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """(Pearson correlation, lag in samples) of the reference's loudness envelope against the
    best-aligned stretch of the recording."""
    h, r = envelope(heard), envelope(ref)
    if len(h) < len(r):
        h = np.concatenate([h, np.zeros(len(r) - len(h))])
    best, lag = -1.0, 0
    rz = (r - r.mean()) / (r.std() or 1.0)
    for k in range(len(h) - len(r) + 1):
        seg = h[k: k + len(r)]
        sd = seg.std()
        if sd == 0:
            continue
        c = float(((seg - seg.mean()) / sd * rz).mean())
        if c > best:
            best, lag = c, k
    return best, lag * WINDOW


def loud(x: np.ndarray, threshold: float = 300.0) -> np.ndarray:
    """Indexes of 20 ms windows louder than `threshold` RMS (speech sits near 3000)."""
    return np.nonzero(envelope(x) > threshold)[0]
