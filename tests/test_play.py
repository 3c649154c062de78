"""`sisessions play` end to end through a private PulseAudio server: what the null sink's
monitor heard is compared with the rendered session, for both players; keys go through a
pseudo-terminal; Ctrl-C, no server, a server that dies mid-session, and the log record."""
from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from sisessions import core, log
from sisessions.render import render
from tests.audio_server import RATE, PulseServer, Recorder, best_match, envelope, loud
from tests.conftest import FIXTURES

SCRIPTS = FIXTURES / "play"
# espeak at a brisk rate keeps the fixture to seconds; the player does not care which voice
VOICE = ("--engine", "espeak", "--rate", "200")
CHOICES = core.Choices(engine="espeak", rate=200)
SAFETY_START = "A short reminder"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = PulseServer(tmp_path_factory.mktemp("pulse")).start()
    yield s
    s.stop()


@pytest.fixture
def pulse(server, monkeypatch, isolated):
    for k, v in server.env.items():
        monkeypatch.setenv(k, v)
    # simpleaudio speaks ALSA: route ALSA's default device to the private server
    (isolated / ".asoundrc").write_text("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
    return server


def rendered(start_pattern: str | None = None) -> np.ndarray:
    """The session as `export` renders it (from the first cue of `start_pattern`)."""
    prepared = core.prepare(core.open_library((str(SCRIPTS),)), "short", CHOICES)
    with core.speech_session(CHOICES, None) as speech:
        tl = core.plan(prepared, speech)
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


def records() -> list[dict]:
    recs, warnings = log.read()
    assert warnings == []
    return recs


@pytest.fixture(scope="module")
def warm(server):
    """Every clip of the fixture in the shared cache, so that timings are the player's own."""
    rendered()


# ---------------------------------------------------------------- what was heard


@pytest.mark.parametrize("player", ["miniaudio", "simpleaudio"])
def test_what_is_heard_matches_the_rendered_session(pulse, warm, player):
    ref = rendered("reach")
    with Recorder(pulse) as rec:
        proc = subprocess.run(play_args("--from", "reach", "--player", player), env=child_env(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "Done: Short Test Session" in proc.stdout
    assert '"Reach up."' in proc.stdout          # plain timestamped lines without a TTY
    corr, lag = best_match(rec.samples, ref)
    print(f"{player}: loudness-envelope correlation {corr:.3f}")
    assert corr >= 0.9
    heard = rec.samples[lag: lag + len(ref)]
    assert abs(np.abs(heard).max() / np.abs(ref).max() - 1) < 0.2  # no gain change on the way
    [r] = records()
    assert r["kind"] == "play" and r["session"] == "short" and r["completed"] is True
    assert r["engine"] == "espeak" and r["pace"] == 1.0 and r["stopped_in"] is None
    assert r["minutes"] == pytest.approx(len(ref) / RATE / 60, abs=0.01)


def test_cue_starts_keep_their_planned_times(pulse, warm):
    """Every loud stretch of the recording begins where the plan puts a sound cue."""
    ref = rendered("reach")
    with Recorder(pulse) as rec:
        subprocess.run(play_args("--from", "reach"), env=child_env(), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=60, check=True)
    _, lag = best_match(rec.samples, ref)
    h = onsets(envelope(rec.samples[lag: lag + len(ref)]) > 300)
    p = onsets(envelope(ref) > 300)
    assert len(p) >= 4 and len(h) == len(p)
    assert np.abs(h - p).max() <= 2  # 20 ms windows: every cue within 40 ms of its plan


def onsets(loud_windows: np.ndarray, quiet: int = 10) -> np.ndarray:
    """Windows where sound starts after at least `quiet` windows (200 ms) of silence: cue
    starts, not the gaps between words."""
    idx = np.nonzero(loud_windows)[0]
    if len(idx) == 0:
        return idx
    starts = [idx[0]] + [b for a, b in zip(idx[:-1], idx[1:]) if b - a > quiet]
    return np.array(starts)


# ---------------------------------------------------------------- keys through a terminal


class Pty:
    """`play` with a pseudo-terminal as its stdin and stdout, as when run in a terminal."""

    def __init__(self, *extra):
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(play_args(*extra), env=child_env(), stdin=slave, stdout=slave,
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


def test_space_pauses_the_sound_and_resumes_the_line(pulse, warm):
    t = Pty()
    t.wait_for(SAFETY_START)
    time.sleep(1.0)                         # mid-way through the long safety line
    t.key(" ")
    t.wait_for("paused")
    time.sleep(0.3)
    with Recorder(pulse) as paused:
        time.sleep(1.5)
    t.key(" ")
    time.sleep(0.2)
    with Recorder(pulse) as resumed:
        time.sleep(1.5)
    t.key("q")
    assert t.finish() == 0
    assert len(loud(paused.samples)) == 0, "sound went on while paused"
    assert len(loud(resumed.samples)) > 20, "no sound after resuming"
    screen = bytes(t.out).decode(errors="replace")
    assert "space pause" in screen and "Short Test Session" in screen
    assert "\x1b[" in screen                # redrawn in place on a terminal
    [r] = records()
    assert r["completed"] is False and r["stopped_in"] is None


def test_n_skips_to_the_next_pattern(pulse, warm):
    ref = rendered("reach")
    start = time.monotonic()
    with Recorder(pulse) as rec:
        t = Pty()
        t.wait_for(SAFETY_START)
        time.sleep(0.5)
        pressed = time.monotonic()
        t.key("n")
        assert t.finish() == 0
    took = time.monotonic() - start
    full = len(rendered()) / RATE
    assert took < full - 4, f"n did not skip the opening: {took:.1f} s of {full:.1f} s"
    corr, lag = best_match(rec.samples, ref)
    assert corr >= 0.9
    # what was heard after the key is the first pattern, from its chime, within half a second
    assert 0 <= rec.time_of(lag) - pressed < 0.5
    screen = bytes(t.out).decode(errors="replace")
    assert "Slow Reach · 1 of 2" in screen
    [r] = records()
    assert r["completed"] is True


# ---------------------------------------------------------------- stopping


def test_ctrl_c_stops_the_sound_at_once_and_says_where(pulse, warm):
    with Recorder(pulse) as rec:
        proc = subprocess.Popen(play_args(), env=child_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        assert SAFETY_START in line
        time.sleep(1.0)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        exited = time.monotonic() - sent
        time.sleep(0.3)
    assert proc.returncode == 1
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0
    assert err.startswith("sisessions: Stopped before the first pattern, at 0:0")
    windows = loud(rec.samples)
    last_sound = rec.time_of(int(windows[-1]) * (RATE // 50)) + 0.02
    print(f"sound stopped {last_sound - sent:.3f} s after SIGINT; process exited after {exited:.3f} s")
    assert last_sound - sent <= 0.2
    assert exited < 2
    [r] = records()
    assert r["completed"] is False and r["minutes"] > 0


def test_no_audio_server_is_one_sentence_that_suggests_export(monkeypatch, tmp_path, warm):
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/no-such-server")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    proc = subprocess.run(play_args(), env=child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and "ALSA" not in err
    assert err.startswith("sisessions: No audio output could be opened")
    assert "sisessions export short" in err
    assert records() == []


def test_a_server_that_goes_away_mid_session_ends_cleanly(tmp_path, monkeypatch, warm):
    own = PulseServer(tmp_path / "own").start()
    try:
        for k, v in own.env.items():
            monkeypatch.setenv(k, v)
        proc = subprocess.Popen(play_args("--from", "reach"), env=child_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert "Slow Reach" in proc.stdout.readline()
        time.sleep(0.5)
        own.kill()
        out, err = proc.communicate(timeout=20)
    finally:
        own.stop()
    assert proc.returncode == 1
    assert "Traceback" not in err and err.strip().count("\n") == 0
    assert err.startswith("sisessions: The audio output went away in Slow Reach")
    [r] = records()
    assert r["completed"] is False and r["stopped_in"] == "reach"


def test_delay_with_announce_speaks_first_then_waits(pulse, warm):
    start = time.monotonic()
    with Recorder(pulse) as rec:
        proc = subprocess.run(play_args("--from", "roll", "--delay", "4", "--announce"), env=child_env(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert '"Starting in 4 seconds."' in proc.stdout
    windows = loud(rec.samples)
    first = rec.time_of(int(windows[0]) * (RATE // 50))
    ref = rendered("roll")
    _, lag = best_match(rec.samples, ref)
    session_start = rec.time_of(lag)
    assert first - start < 1.5                       # the announcement comes at once
    assert 3.6 < session_start - first < 4.6         # the session begins 4 s after it
    assert records()[0]["minutes"] == pytest.approx(len(ref) / RATE / 60, abs=0.01)


def test_from_an_unknown_pattern_is_the_users_mistake(warm):
    proc = subprocess.run(play_args("--from", "nope"), env=child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "sisessions: --from nope: that pattern is not in session 'short' today."


def test_cold_cache_starts_within_two_seconds(pulse, fresh_cache):
    """Nothing cached: synthesis runs ahead in the background and the first line comes soon."""
    start = time.monotonic()
    with Recorder(pulse) as rec:
        proc = subprocess.run(play_args("--from", "roll"), env=child_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    windows = loud(rec.samples)
    first = rec.time_of(int(windows[0]) * (RATE // 50))
    print(f"cold: first sound {first - start:.2f} s after the command started")
    assert first - start <= 2.0
    assert json.loads(json.dumps(records()))[0]["completed"] is True
