"""`play --listen` (spoken commands, SPEC §6) with real parts: a private PulseAudio with two
null sinks, the session playing into one ("test") and the other ("room") being the room the
microphone hears (PULSE_SOURCE=room.monitor); module-loopback carries the session's own sound
into the room as a loudspeaker would, and breathing is played into it with paplay. End to end
here: a listening session heard through its own echo plays to its end on time, and what
happens without a microphone; then the parts (the spotter is pocketsphinx itself, on the
recorded takes of tests/fixtures/spoken). Commands acting on a playing session, frame by
frame: test_listen_ask.py; spoken answers end to end: test_check.py."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
import wave

import numpy as np
import pytest

from sisessions import app
from sisessions.audio import RATE
from sisessions.play import listen
from sisessions.sources import tone
from sisessions.practice import log, settings
from tests.audio_server import WINDOW, Recorder, best_match, envelope
from tests.play.helpers import CHOICES, ROOM, SCRIPTS, VOICE, rendered, say, spoken, to16k

# ---------------------------------------------------------------- the session


@pytest.fixture
def warm():
    prepared = app.prepare(app.open_library((str(SCRIPTS),)), "listen", CHOICES)
    with app.speech_session(CHOICES, None) as speech:
        return app.plan(prepared, speech)


class Play:
    """`play listen` (or `session`) with its plain line output read as it comes, each line timed."""

    def __init__(self, *extra, env=None, session: str = "listen"):
        e = dict(__import__("os").environ)
        e.pop("SISESSIONS_DEBUG", None)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sisessions", "--scripts", str(SCRIPTS), "play", session, *VOICE, *extra],
            env=e, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[tuple[float, str]] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def when(self, text: str, after: float = 0.0) -> float | None:
        return next((t for t, ln in list(self.lines) if text in ln and t >= after), None)

    def wait_for(self, text: str, after: float = 0.0, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while (t := self.when(text, after)) is None:
            assert time.monotonic() < deadline, f"never showed {text!r}: {self.text()}"
            assert self.proc.poll() is None or self._t.is_alive(), f"ended: {self.text()} {self.proc.stderr.read()}"
            time.sleep(0.02)
        return t

    def text(self) -> str:
        return "\n".join(ln for _, ln in self.lines)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        rc = self.proc.wait(timeout)
        self._t.join(5)
        return rc, self.proc.stderr.read()


FROM = ("--from", "still")                     # past the safety lines, to the long silences
SHORT = ("--from", "reach")                    # ... and a session of seconds, where listening is not the point


def onsets(loud_windows: np.ndarray, quiet: int = 10) -> np.ndarray:
    """Windows where sound starts after at least `quiet` windows (200 ms) of silence."""
    idx = np.nonzero(loud_windows)[0]
    return np.array([b for a, b in zip(np.r_[-quiet - 1, idx], idx) if b - a > quiet])


def planned_gap(tl, a: str, b: str) -> float:
    """Seconds from the start of the line `a` to the start of the line `b` in the plan."""
    starts = {c.text: c.start for c in tl.cues if c.text}
    return (starts[b] - starts[a]) / RATE


# ---------------------------------------------------------------- end to end
# (spoken commands acting on a playing session: test_listen_ask.py, in-process, frame by frame)


def breathing_wav(path, seconds: float, rms_dbfs: float = -38.0) -> None:
    """Slow breathing and room noise (band-passed noise bursts with raised-cosine envelopes)."""
    rng = np.random.default_rng(3)
    n = int(seconds * RATE)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spec[(f < 200) | (f > 2500)] = 0
    air = np.fft.irfft(spec, n)
    t = np.arange(n) / RATE
    env = np.sin(np.pi * (t % 5.0) / 5.0) ** 2               # one breath every five seconds
    x = air / air.std() * env + 0.3 * rng.standard_normal(n)
    x *= 10 ** (rms_dbfs / 20) * 32767 / x.std()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.clip(x, -32768, 32767).astype("<i2").tobytes())


def test_a_session_with_its_own_echo_and_breathing_and_no_command_plays_to_its_end_on_time(mic, warm, tmp_path):
    """Nothing said for the whole session: its own voice coming back through the room and slow
    breathing are never heard as a command, and it keeps its planned time. Then the check-in's
    question is answered aloud (a play that listens asks it; unanswered it would stand 30 s)."""
    breath = tmp_path / "breathing.wav"
    breathing_wav(breath, 35)
    noise = subprocess.Popen(["paplay", f"--device={ROOM}", str(breath)], env=mic.client_env())
    try:
        with Recorder(mic) as rec:          # what the session played (the room's breathing is not in it)
            p = Play("--listen", *FROM)     # from the pattern: the safety lines are not the point
            done = p.wait_for('"All done."', timeout=90)
            time.sleep(2.0)                 # shown as taken by the output: heard up to a queue later
    finally:
        noise.terminate()
        noise.wait(5)
    asked = p.wait_for('"Press a number key, or t for ten, or say the number."', after=done, timeout=30)
    p.wait_for("(listening)", after=asked, timeout=30)
    say(mic, "zero")
    rc, err = p.finish(timeout=60)
    assert rc == 0, err
    assert err == ""
    text = p.text()
    assert "Done: Listening Test Session" in text
    assert [ln.split("  ")[-1] for _, ln in p.lines if "(heard" in ln] == ['(heard "zero")']
    assert p.when('(heard "zero")', after=asked) is not None
    assert text.count("(listening)") >= 4                   # in each long silence, and for the answer
    # on time as heard (the recording of what the session played): the last three sounds after
    # 3 s of silence are its last three lines (the check-in's follow at once); they begin where
    # the plan has them
    heard = envelope(rec.samples) > 300
    starts = [b for a, b in zip(np.r_[-1000, np.nonzero(heard)[0]], np.nonzero(heard)[0]) if b - a > 150]
    assert len(starts) >= 3, starts
    breathe, rest, all_done = (np.array(starts[-3:]) * WINDOW) / RATE
    plan = [planned_gap(warm, "Breathe out.", line) for line in ("Rest now.", "All done.")]
    print(f"heard: Breathe out. to Rest now. {rest - breathe:.3f} s, to All done. {all_done - breathe:.3f} s;"
          f" planned {plan[0]:.3f} s, {plan[1]:.3f} s")
    # Sample-exact (within 20 ms) with two busy processes on the 2 cores; at a load of 12 to 18
    # the output underruns (with and without --listen) and 17.2 s were heard in up to 19.8 s:
    # the margin (a fifth) holds that, and still fails a listener that holds the session up (a
    # pause, a confirmation's 10 s); a command heard in the breathing fails the check above
    assert abs(rest - breathe - plan[0]) < 0.2 * plan[0] and abs(all_done - breathe - plan[1]) < 0.2 * plan[1]
    # ... and as shown (the lines are printed by the session loop, which a busy machine delays;
    # the first line is shown after the start-up)
    took = done - p.when('"Breathe out."')
    print(f"shown: second to last line: {took:.2f} s, planned {plan[1]:.2f} s")
    assert abs(took - plan[1]) < 0.25 * plan[1]
    recs, warnings = log.read()
    assert warnings == [] and [(r.kind, getattr(r, "pain", None)) for r in recs] == [("play", None), ("pain", 0)]
    assert recs[0].completed


def test_the_saved_setting_listens_no_microphone_is_one_line_and_remember_needs_a_choice(room, monkeypatch, cli):
    for k, v in room.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PULSE_SOURCE", "no-such-microphone")
    assert settings.listen() is False
    bad = cli("--scripts", SCRIPTS, "play", "listen", *VOICE, "--remember")
    assert bad.returncode == 2 and "--remember" in bad.stderr
    settings.save_value("listen", True)   # as `play --listen --remember` leaves it
    with Recorder(room) as rec:
        p = Play(*SHORT, session="short")  # no --listen: the saved setting listens
        rc, err = p.finish(timeout=90)
    assert rc == 0, err
    # starting to listen (the recogniser's model loads, holding the interpreter up to half a
    # second) leaves no gap in the sound: every loud stretch heard begins where the plan puts a cue
    ref = rendered("reach")
    _, lag = best_match(rec.samples, ref)
    heard, planned = onsets(envelope(rec.samples[lag: lag + len(ref)]) > 300), onsets(envelope(ref) > 300)
    assert len(planned) >= 4 and len(heard) == len(planned), (heard, planned)
    assert np.abs(heard - planned).max() <= 2
    # no capture device: one line, and the session plays to its end
    assert p.text().count(listen.NO_MICROPHONE) == 1
    assert "Done: Short Test Session" in p.text() and '"And back."' in p.text()
    assert "(listening)" not in p.text()
    assert "How is the pain" not in p.text()   # nothing could answer it: not asked
    ok = cli("--scripts", SCRIPTS, "play", "listen", *VOICE, "--no-listen", "--remember", "--from", "nope")
    assert ok.returncode == 2                # saved before the session is even looked at
    assert settings.listen() is False


def test_listen_without_the_recogniser_is_exit_2_with_the_install_line():
    code = ("import sys; sys.modules['pocketsphinx'] = None; sys.argv[0] = 'sisessions'; "
            "from sisessions.cli import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, "--scripts", str(SCRIPTS), "play", "listen", *VOICE,
                           "--listen"], capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in __import__("os").environ.items() if k != "SISESSIONS_DEBUG"})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "pip install 'pocketsphinx" in proc.stderr
    assert proc.stdout == ""


# ---------------------------------------------------------------- the parts


@pytest.fixture(scope="module")
def spotter():
    """One recogniser for every phrase below (loading its model is a second each time); each
    test starts it afresh with use() and reset()."""
    return listen.Spotter()


@pytest.fixture(scope="module")
def breathing16k(tmp_path_factory) -> np.ndarray:
    breath = tmp_path_factory.mktemp("breath") / "b.wav"
    breathing_wav(breath, 4, rms_dbfs=-40)
    return np.frombuffer(to16k(breath), dtype="<i2").astype(np.float64)


@pytest.mark.parametrize("word, grammar", [(w, "commands") for w in listen.PHRASES]
                         + [(w, "confirm") for w in listen.CONFIRM]
                         + [(w, kind) for kind, answers in listen.ANSWERS.items() for w in answers])
def test_the_spotter_hears_each_phrase_in_noise_and_nothing_in_breathing(word, grammar, spotter, breathing16k):
    noise = breathing16k
    said = np.frombuffer(to16k(spoken(word)), dtype="<i2").astype(np.float64)
    x = noise.copy()
    x[16000: 16000 + len(said)] += said
    sp = spotter
    sp.use(grammar)
    sp.reset()
    pcm = np.clip(x, -32768, 32767).astype("<i2").tobytes()
    heard = [w for i in range(0, len(pcm), 3200) if (w := sp.feed(pcm[i:i + 3200]))]
    assert heard == [word]
    sp.reset()
    quiet = noise.astype("<i2").tobytes()
    assert [w for i in range(0, len(quiet), 3200) if (w := sp.feed(quiet[i:i + 3200]))] == []


def test_a_command_cut_short_by_the_end_of_the_silence_is_still_heard(tmp_path):
    # the session sounds again 0.1 s after the word: too soon for the stretch to have ended,
    # so it is decoded when the gate closes (flush) instead of being forgotten
    path = spoken("stop")
    said = np.frombuffer(to16k(path), dtype="<i2").astype(np.float64)
    said = said[: np.nonzero(np.abs(said) > 300)[0][-1] + 1600]
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.standard_normal(8000) * 30, said])
    sp = listen.Spotter()
    pcm = np.clip(x, -32768, 32767).astype("<i2").tobytes()
    assert [w for i in range(0, len(pcm), 3200) if (w := sp.feed(pcm[i:i + 3200]))] == []
    assert sp.flush() == "stop"
    assert sp.flush() is None             # forgotten once decoded


@pytest.mark.parametrize("events, expected", [
    # (time, quiet) -> open? : listening starts ECHO_TAIL after the last sound, never during it
    ([(0.0, False), (0.1, True), (0.4, True), (0.61, True)], [False, False, False, True]),
    ([(0.0, True)], [True]),
    ([(0.0, True), (1.0, False), (1.2, True), (1.49, True), (1.5, True)], [True, False, False, False, True]),
])
def test_the_gate_listens_only_after_the_echo_tail(events, expected):
    g = listen.Gate(tail=0.5)
    assert [g.update(t, q) for t, q in events] == expected


def test_a_held_gate_stays_closed_for_the_tone():
    g = listen.Gate(tail=0.5)
    assert g.update(0.0, True)
    g.hold(0.0, tone.SECONDS + 0.5)
    assert not g.update(0.5, True) and g.update(0.67, True)


def test_the_tone_is_soft_clickless_and_mixed_into_what_the_output_pulls():
    class Silence:  # the paused feeder's side of read(): silence
        generation = 0

        def read(self, frames):
            return bytes(2 * frames)

    mix = tone.ToneMix(Silence())
    assert mix.read(100) == bytes(200)            # nothing rung: the source as it is
    mix.ring()
    pcm = b"".join(mix.read(441) for _ in range(20))
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n = len(tone.tone_samples())
    assert np.count_nonzero(x) > 0.9 * n and not x[n:].any()
    peak_db = 20 * np.log10(np.abs(x).max() / 32768)
    assert -28 < peak_db < -24                    # well under speech (peaks near -2 dBFS)
    assert abs(x[0]) <= 1 and abs(x[n - 1]) <= 1  # starts and ends at zero: no click
    # a click is broadband: nearly all of the tone's energy is at its two partials (< 1.3 kHz)
    spec = np.abs(np.fft.rfft(x[:n], 8 * n)) ** 2
    f = np.fft.rfftfreq(8 * n, 1 / RATE)
    assert spec[f > 2500].sum() / spec.sum() < 1e-6  # a square-cut tone: 6e-5
