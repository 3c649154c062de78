"""The voices: real Piper and espeak synthesis, pace, loudness, voice identity, isolation."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from sisessions import paths
from sisessions.audio import RATE, ffmpeg_exe
from sisessions.voice import clip, loudness, phrasing
from sisessions.voice.cache import Cache
from sisessions.voice.engines import piper
from sisessions.voice.engines.base import get_engine
from sisessions.voice.speech import Speech
from tests.conftest import FIXTURES, run_cli, signal_every_worker
from tests.meter import ebur128

VOICES = FIXTURES / "voices"
LINES = ("Lie on your back, with your knees bent and your feet flat on the floor.",
         "Slowly lean back until your shoulders rest against the wall.")


def speech(engine: str, rate: int = 110, voice: str | None = None) -> Speech:
    return Speech(get_engine(engine).settings(voice, rate), Cache(paths.cache_dir()))


def samples(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0


# ---------------------------------------------------------------- phrasing (pure)


@pytest.mark.parametrize("text, phrases", [
    ("Rest.", [("Rest.", "end")]),
    ("Lie down, slowly. Breathe.", [("Lie down,", "comma"), ("slowly.", "sentence"), ("Breathe.", "end")]),
    ("About 1,000 steps; then stop", [("About 1,000 steps;", "comma"), ("then stop", "end")]),
    ('He said "rest." Then rest.', [('He said "rest."', "sentence"), ("Then rest.", "end")]),
    ("Slowly arch (3 of 5).", [("Slowly arch (3 of 5).", "end")]),
    ("Wait. ... Then rest.", [("Wait. ...", "sentence"), ("Then rest.", "end")]),
    ("- Slowly, now.", [("- Slowly,", "comma"), ("now.", "end")]),
])
def test_a_line_splits_into_phrases_at_commas_and_sentences(text, phrases):
    got = phrasing.split(text)
    assert [(p.text, p.ends) for p in got] == phrases
    assert " ".join(p.text for p in got) == text


def test_silences_fill_the_time_the_rate_asks_for_within_their_bounds():
    ph = phrasing.split("Lie down, slowly. Breathe out.")
    g = phrasing.gaps(ph, speech_seconds=2.0, target=5.0)
    assert len(g) == 3 and sum(g) == pytest.approx(3.0)
    assert g[1] == pytest.approx(2 * g[0])  # a sentence gap is twice a comma gap
    g = phrasing.gaps(ph, speech_seconds=4.9, target=5.0)  # no time left: the shortest gaps
    assert g == [phrasing.COMMA_GAP[0], phrasing.SENTENCE_GAP[0], phrasing.END_GAP[0]]


# ---------------------------------------------------------------- real synthesis


def test_piper_speaks_a_short_sentence_in_its_own_process(fresh_cache):
    with Speech(get_engine("piper").settings(None, 110), Cache(fresh_cache)) as sp:
        path, frames = sp.get("Lie down slowly.")
        x = samples(path)
    assert len(x) == frames and 1.0 < frames / RATE < 4.0
    assert np.abs(x[: int(0.03 * RATE)]).max() < 0.01   # starts in silence: no click
    assert np.abs(x).max() > 0.2                        # and then speaks
    # piper and onnxruntime never load in this (the parent) process: see engines/base.py
    assert "piper" not in sys.modules and "onnxruntime" not in sys.modules


@pytest.mark.parametrize("engine", ["piper", "espeak"])
@pytest.mark.parametrize("rate", [90, 130])
def test_measured_words_per_minute_are_within_ten_percent_of_rate(engine, rate):
    with speech(engine, rate) as sp:
        sp.ensure(LINES)
        for line in LINES:
            _, frames = sp.get(line)
            wpm = len(line.split()) / (frames / RATE) * 60
            assert abs(wpm - rate) <= 0.10 * rate, (engine, rate, line, round(wpm))


PHRASES = ("Let the weight of your legs sink slowly into the soft floor beneath you",
           "Now slowly tighten the muscles along the right side of your lower back",
           "Rest here for a moment and notice how your back feels against the floor")


def voiced_seconds(path: Path) -> float:
    """From the first to the last 20 ms window above -40 dBFS."""
    with wave.open(str(path)) as f:
        x = np.frombuffer(f.readframes(f.getnframes()), dtype=np.int16).astype(float) / 32768
        frame = f.getframerate() // 50
    env = np.sqrt(np.mean(x[: len(x) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    voiced = np.nonzero(env > 10 ** (-40 / 20))[0]
    return (voiced[-1] - voiced[0] + 1) / 50


@pytest.mark.parametrize("engine", ["piper", "espeak"])
@pytest.mark.parametrize("rate", [90, 130])
def test_the_engine_itself_is_calibrated_not_just_padded(engine, rate, tmp_path):
    """A clip lasts words / rate because phrasing.py sizes its silences; that alone would hide
    a badly calibrated voice. So the voice's own speech, phrases straight from the worker,
    timed from first to last voiced sample, must run at ARTICULATION x rate (±10 %)."""
    from sisessions.voice.engines.base import Worker, engine_timeout

    w = Worker(get_engine(engine).settings(None, rate))
    words = seconds = 0.0
    try:
        for i, phrase in enumerate(PHRASES):
            out = tmp_path / f"phrase{i}.wav"
            w.request({"op": "synth", "text": phrase, "out": str(out)}, engine_timeout(phrase))
            words += len(phrase.split())
            seconds += voiced_seconds(out)
    finally:
        w.close()
    spoken, want = words / seconds * 60, phrasing.ARTICULATION * rate
    assert abs(spoken - want) <= 0.10 * want, (engine, rate, round(spoken), round(want))


@pytest.mark.parametrize("engine", ["piper", "espeak"])
def test_an_export_sits_at_minus_16_lufs_with_true_peak_below_minus_1(engine, tmp_path):
    out = tmp_path / "short.mp3"
    run_cli("--scripts", VOICES, "export", "short", "--engine", engine, "-o", out, check=0)
    integrated, peak = ebur128(out, ffmpeg_exe())
    assert -17.0 <= integrated <= -15.0, integrated
    assert peak <= -1.0, peak


def test_clip_loudness_agrees_with_ffmpeg(tmp_path):
    with speech("piper") as sp:
        path, _ = sp.get(LINES[0])
    mine = loudness.measure(samples(path), RATE)
    theirs = ebur128(path, ffmpeg_exe())
    assert mine.integrated == pytest.approx(theirs[0], abs=0.3)
    assert mine.true_peak == pytest.approx(theirs[1], abs=0.3)
    assert mine.integrated == pytest.approx(clip.TARGET_LUFS, abs=0.2) and mine.true_peak <= -1.9


# ---------------------------------------------------------------- voice identity


def test_switching_engine_changes_the_cache_key_and_the_audio():
    text = "Rest your hands on your belly."
    with speech("piper") as a, speech("espeak") as b:  # both engines in one run
        pa, _ = a.get(text)
        pb, _ = b.get(text)
        assert Cache.key(a.settings, text) != Cache.key(b.settings, text)
    assert pa != pb and pa.read_bytes() != pb.read_bytes()


def test_another_piper_voice_file_is_another_voice(tmp_path):
    """A copy of the model with other inference settings in its .json beside it."""
    model, config = piper.voice_files("joe")
    other = tmp_path / "calmer.onnx"
    shutil.copyfile(model, other)
    cfg = json.loads(config.read_text())
    cfg["inference"]["noise_scale"] = 0.2
    cfg["inference"]["noise_w"] = 0.2
    (tmp_path / "calmer.onnx.json").write_text(json.dumps(cfg))
    text = "Let your breath slow down."
    base = get_engine("piper").settings(None, 110)
    mine = get_engine("piper").settings(str(other), 110)
    assert mine.voice == str(other.resolve()) and mine.voice_id != base.voice_id
    assert Cache.key(mine, text) != Cache.key(base, text)
    with speech("piper") as a, speech("piper", voice=str(other)) as b:
        assert a.get(text)[0].read_bytes() != b.get(text)[0].read_bytes()


def test_the_model_hash_is_remembered_by_path_size_and_time(tmp_path):
    f = tmp_path / "voice.onnx"
    f.write_bytes(b"x" * 1000)
    first = piper.file_hash(f)
    memo = json.loads(piper._memo_file().read_text())
    assert memo[str(f.resolve())]["sha256"] == first
    assert piper._memo_file().is_relative_to(Path(os.environ["XDG_CACHE_HOME"]))
    memo[str(f.resolve())]["sha256"] = "remembered"  # a hit never reads the file again
    piper._memo_file().write_text(json.dumps(memo))
    assert piper.file_hash(f) == "remembered"
    f.write_bytes(b"y" * 1001)  # changed: hashed again
    assert piper.file_hash(f) not in (first, "remembered")


@pytest.mark.parametrize("voice, message", [
    ("nobody", "--voice nobody: the piper engine takes 'joe'"),
    ("/no/such/voice.onnx", "--voice /no/such/voice.onnx: no such voice file"),
])
def test_a_wrong_voice_is_the_users_mistake(voice, message):
    p = run_cli("--scripts", VOICES, "show", "short", "--engine", "piper", "--voice", voice, check=2)
    assert p.stderr.startswith("sisessions: " + message) and p.stderr.count("\n") == 1


def test_engines_lists_piper_as_default_and_espeak():
    out = run_cli("engines", check=0).stdout.splitlines()
    assert out[0].startswith("piper") and "(default)" in out[0] and "joe" in out[0]
    assert any(ln.startswith("espeak") for ln in out)


# ---------------------------------------------------------------- a killed engine


def test_a_killed_piper_worker_ends_the_run_with_exit_1_and_one_sentence(fresh_cache):
    # SIGKILL: a real crash of the engine, as a segfault would be
    code, out, err, killed = signal_every_worker(
        ["--scripts", VOICES, "synth", "short", "--engine", "piper"], signal.SIGKILL)
    assert killed, "no engine worker was seen"
    assert code == 1, (out, err)
    assert err == "sisessions: The piper engine stopped unexpectedly (killed by SIGKILL).\n"
    assert not list(Path(fresh_cache).glob("clips/*/*.wav"))  # nothing half-made was cached


def test_synthesis_without_a_system_ffmpeg_prints_no_pydub_warning(tmp_path, fresh_cache):
    """Issue 21, item 9: with no `ffmpeg` on PATH (only imageio-ffmpeg's bundled one), making
    speech printed pydub's "Couldn't find ffmpeg or avconv" RuntimeWarning on every cold run."""
    bare = tmp_path / "bin"  # a PATH with nothing on it: no ffmpeg, no avconv
    bare.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
    env.update(PATH=str(bare))  # warnings as a user sees them
    proc = subprocess.run([sys.executable, "-m", "sisessions", "--scripts", str(FIXTURES / "phone"), "synth", "short",
                           "--side", "left", "--engine", "espeak"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "new clips made" in proc.stdout  # it did synthesize (pydub was imported and used)
    assert "Warning" not in proc.stderr and "ffmpeg" not in proc.stderr, proc.stderr
