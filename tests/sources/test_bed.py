"""`--bed`: real sessions rendered with a bed, decoded by Debian's ffmpeg and measured: its level in
the silences, the dip under speech, the fades, the export's loudness and true peak, and
chapters, transcript and cue times exactly as without a bed."""
from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from sisessions.audio import RATE
from sisessions.sources import bed as beds
from tests.conftest import module_env, run_cli
from tests.meter import ebur128


def decode(path: Path) -> np.ndarray:
    """Any audio file -> float samples at RATE, decoded by Debian's ffmpeg (not the one we use)."""
    raw = subprocess.run(["/usr/bin/ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1",
                          "-ar", str(RATE), "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0


def wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768.0


def db(x: np.ndarray) -> float:
    return 10 * np.log10(max(float(np.mean(x * x)), 1e-20))


def spans(tl: dict, kind: str, min_seconds: float = 0.0, margin: float = 0.0):
    """(a, b) sample ranges of cues of a kind, away from the session's fades."""
    for c in tl["cues"]:
        if c["kind"] != kind or c["duration"] < min_seconds:
            continue
        if c["start"] < beds.FADE_IN + 1 or c["start"] + c["duration"] > tl["duration"] - beds.FADE_OUT - 1:
            continue
        a, b = round((c["start"] + margin) * RATE), round((c["start"] + c["duration"] - margin) * RATE)
        if b > a:
            yield a, b


# The bed does not care which voice speaks: espeak keeps the module's one synthesis of towel
# short (the default voice's exports are measured in tests/output/test_export.py).
VOICE = ("--engine", "espeak")


@pytest.fixture(scope="module")
def towel(tmp_path_factory, shared_cache):
    """The towel session exported once for the whole module: WAV with no bed, with brown, with
    drone and with brown at --bed-level -38; MP3 (and sidecars) with brown and with none; its
    timeline with and without --bed."""
    out = tmp_path_factory.mktemp("beds")
    env = module_env(out, shared_cache)  # module scope runs outside the per-test isolation
    show = lambda *bed: run_cli("show", "towel", "--side", "left", *VOICE, "--json", *bed, env=env,  # noqa: E731
                                check=0).stdout
    timeline = {"plain": show(), "brown": show("--bed", "brown")}
    files = {}
    for name, extra in ((None, ()), ("brown", ("--bed", "brown")), ("drone", ("--bed", "drone")),
                        ("-38", ("--bed", "brown", "--bed-level", "-38"))):
        f = out / f"{name or 'none'}.wav"
        run_cli("export", "towel", "--side", "left", *VOICE, "-o", f, *extra, env=env, check=0)
        files[name] = wav(f)
    mp3s = {"bed": out / "bed" / "towel.mp3", "plain": out / "plain" / "towel.mp3"}
    run_cli("export", "towel", "--side", "left", *VOICE, "-o", mp3s["bed"], "--bed", "brown", env=env, check=0)
    run_cli("export", "towel", "--side", "left", *VOICE, "-o", mp3s["plain"], env=env, check=0)
    return json.loads(timeline["plain"]), files, mp3s, timeline


@pytest.mark.parametrize("name", ["brown", "drone"])
def test_the_bed_is_quiet_in_silences_dips_under_speech_and_fades(towel, name):
    tl, files, _, _ = towel
    plain, bedded = files[None], files[name]
    assert len(plain) == len(bedded)
    bed = bedded - plain  # the bed alone, as mixed (the voice is identical sample for sample)
    silences = np.concatenate([bed[a:b] for a, b in spans(tl, "pause", 3.0, margin=1.0)])
    assert db(silences) == pytest.approx(beds.LEVEL, abs=1.0)
    for a, b in spans(tl, "say"):  # under the voice it is gone: each line is the voice alone
        assert not bed[a:b].any()
    near = [bed[a - round(beds.DUCK_DOWN * RATE):a] for a, _ in spans(tl, "say", 1.0)]
    assert max(np.abs(z).max() for z in near) > 0  # and it only leaves just before the words
    # the opening fades in from nothing; the end fades out to exact zero
    assert db(bed[: RATE // 2]) < beds.LEVEL - 20
    assert db(bed[-RATE // 4:]) < beds.LEVEL - 30 and bed[-1] == 0
    # and a pause in the plain render is digital silence that the bed fills
    a, b = next(spans(tl, "pause", 3.0, margin=1.0))
    assert not plain[a:b].any() and bed[a:b].any()


def test_bed_level_moves_the_level_in_the_silences(towel):
    tl, files, _, _ = towel
    bed = files["-38"] - files[None]
    silences = np.concatenate([bed[a:b] for a, b in spans(tl, "pause", 3.0, margin=1.0)])
    assert db(silences) == pytest.approx(-38, abs=1.0)


def test_the_mp3_with_a_bed_keeps_loudness_peak_chapters_transcript_and_cues(towel):
    from mutagen.id3 import ID3

    _, _, mp3s, timeline = towel
    with_bed, without = mp3s["bed"], mp3s["plain"]
    level = ebur128(with_bed)
    assert -17.0 <= level[0] <= -15.0 and level[1] <= -1.0, level
    x = decode(with_bed)
    chaps = [sorted((f.element_id, f.start_time, f.end_time) for f in ID3(str(p)).getall("CHAP"))
             for p in (with_bed, without)]
    assert chaps[0] == chaps[1] and len(chaps[0]) >= 3
    for ext in (".lrc", ".vtt"):
        assert with_bed.with_suffix(ext).read_bytes() == without.with_suffix(ext).read_bytes()
    assert timeline["brown"] == timeline["plain"]
    # and the voice starts where the plan says: the decoded MP3s agree on every line's onset
    y = decode(without)
    tl = json.loads(timeline["plain"])
    for c in tl["cues"]:
        if c["kind"] == "say" and c["duration"] > 1:
            s = round(c["start"] * RATE)
            onset = [int(np.argmax(np.convolve(np.abs(z[s - RATE // 4:s + RATE // 2]), np.ones(110) / 110, "same")
                                   > 0.02)) for z in (x, y)]
            assert abs(onset[0] - onset[1]) <= RATE // 100, c


def test_split_parts_meet_the_bed_seamlessly(tmp_path, shared_cache):
    """Rendering in parts (as --split does) gives the same samples as rendering the whole."""
    from sisessions import app
    from sisessions.output.chapters import chapters
    from sisessions.output.render import cues_chunks, render

    p = app.prepare(app.open_library(), "towel", app.Choices(side="left", bed="drone", engine="espeak"))
    with app.speech_session(app.Choices(side="left", engine="espeak"), None) as speech:
        tl = app.plan(p, speech)
        whole = b"".join(render(tl, speech, bed=p.bed))
        parts = b"".join(b"".join(cues_chunks(tl, tl.cues[ch.first:ch.stop], speech, p.bed, origin=0))
                         for ch in chapters(tl))
    assert len(chapters(tl)) >= 3 and whole == parts


def test_the_built_in_loops_have_no_seam():
    for name in beds.BUILTIN_BEDS:
        x = beds.builtin(name).astype(np.float64)
        steps = np.abs(np.diff(x))
        assert abs(x[0] - x[-1]) <= steps.max()  # the wrap is a step like any other
        assert db(x) == pytest.approx(0.0, abs=0.01)


def _tone_file(path: Path, seconds: float) -> Path:
    subprocess.run(["/usr/bin/ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=220:duration={seconds}:sample_rate=44100", "-ac", "2", str(path)], check=True)
    return path


def test_a_file_bed_is_converted_once_cached_and_crossfaded(tmp_path):
    src = _tone_file(tmp_path / "tone.ogg", 3.37)  # not a whole number of cycles: a bare loop would click
    cache = tmp_path / "cache"
    bed = beds.choose(str(src), None)
    raw, rms = beds.converted(Path(bed.spec), cache)
    decoded = decode(src)
    assert raw.parent == cache / "beds" and rms == pytest.approx(float(np.sqrt(np.mean(decoded ** 2))), rel=0.1)
    made = raw.stat().st_mtime_ns
    assert beds.converted(Path(bed.spec), cache) == (raw, rms) and raw.stat().st_mtime_ns == made
    loop = beds.open_loop(bed, cache)
    try:
        n = loop.length
        assert n == len(decoded) - min(round(beds.XFADE * RATE), len(decoded) // 4)
        around = loop.read(n - 200, 400)  # across the loop point
        inside = loop.read(n // 2, 400)
        assert np.abs(np.diff(around)).max() <= 1.2 * np.abs(np.diff(inside)).max()
    finally:
        loop.close()


def test_a_file_bed_in_an_export_and_as_a_session_default(tmp_path):
    _tone_file(tmp_path / "tone.flac", 6)
    lib = tmp_path / "lib"
    (lib / "sessions").mkdir(parents=True)
    (lib / "sessions" / "calm.yaml").write_text("title: Calm\nbed: ../../tone.flac\nitems:\n  - towel-wall-rock\n",
                                                encoding="utf-8")
    out, plain, off = tmp_path / "calm.wav", tmp_path / "plain.wav", tmp_path / "off.wav"
    run_cli("--scripts", lib, "export", "calm", *VOICE, "-o", out, check=0)
    run_cli("--scripts", lib, "export", "calm", *VOICE, "-o", off, "--bed", "off", check=0)
    run_cli("--scripts", lib, "export", "calm", *VOICE, "-o", plain, "--bed", "brown", check=0)
    x, y, z = wav(out), wav(off), wav(plain)
    tl = json.loads(run_cli("--scripts", lib, "show", "calm", *VOICE, "--json", check=0).stdout)
    a, b = next(spans(tl, "pause", 3.0, margin=1.0))
    assert db(x[a:b] - y[a:b]) == pytest.approx(beds.LEVEL, abs=1.0)  # the session's own bed
    assert not y[a:b].any()                                            # --bed off: none
    spectrum = lambda s: np.abs(np.fft.rfft(s[a:a + RATE]))
    assert np.argmax(spectrum(x - y)) == 220 and np.argmax(spectrum(z - y)) != 220  # --bed overrides


@pytest.mark.parametrize("spec, message", [
    ("no-such-bed", "not a built-in bed (brown, drone) and no such audio file"),
    ("notes.txt", "ffmpeg cannot read it as audio"),
])
def test_a_bad_bed_is_exit_2_with_one_line_and_no_file(tmp_path, spec, message):
    (tmp_path / "notes.txt").write_text("not audio\n" * 100)
    out = tmp_path / "out" / "out.mp3"
    out.parent.mkdir()
    given = str(tmp_path / spec) if spec == "notes.txt" else spec
    proc = run_cli("export", "towel", "--side", "left", *VOICE, "-o", out, "--bed", given)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert list(out.parent.iterdir()) == []  # no file, no part left beside it


def test_a_session_naming_a_missing_bed_file_is_a_script_error(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("title: S\nbed: rain.ogg\nitems:\n  - arrive\n", encoding="utf-8")
    proc = run_cli("validate", f)
    assert proc.returncode == 2 and proc.stderr.startswith(f"{f}:2:") and "bed must be" in proc.stderr
