"""Rendering and export: real speech, decoded by an independent ffmpeg, measured against the plan."""
from __future__ import annotations

import array
import json
import math
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from sisessions.audio import RATE
from tests.conftest import FIXTURES, run_cli
from tests.meter import ebur128

LIB = FIXTURES / "lib"


def decode(path: Path) -> array.array:
    """Any audio file -> s16 mono samples at RATE, decoded by Debian's ffmpeg (not ours)."""
    raw = subprocess.run(["/usr/bin/ffmpeg", "-v", "error", "-i", str(path), "-f", "s16le", "-ac", "1",
                          "-ar", str(RATE), "-"], capture_output=True, check=True).stdout
    return array.array("h", raw)


def rms_db(samples, a: int, b: int) -> float:
    seg = samples[max(0, a):max(0, b)]
    if len(seg) == 0:
        return -120.0
    ms = sum(x * x for x in seg) / len(seg)
    return 10 * math.log10(ms / 32768**2) if ms > 0 else -120.0


def timeline(*args) -> dict:
    return json.loads(run_cli("--scripts", LIB, "show", *args, "--json", check=0).stdout)


@pytest.fixture
def fixed_timeline():
    # function scope: it must run inside the per-test isolation (same cache as the export)
    return timeline("fixed")


def test_wav_export_places_every_cue_exactly(tmp_path, fixed_timeline):
    out = tmp_path / "fixed.wav"
    run_cli("--scripts", LIB, "export", "fixed", "-o", out, check=0)
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        pcm = array.array("h", w.readframes(w.getnframes()))
    tl = fixed_timeline
    assert len(pcm) / RATE == pytest.approx(tl["duration"], abs=0.05)
    for cue in tl["cues"]:
        a, b = round(cue["start"] * RATE), round((cue["start"] + cue["duration"]) * RATE)
        if cue["kind"] == "pause":
            assert max(map(abs, pcm[a + 25:b - 25])) == 0, cue    # true silence inside pauses (±1 ms of JSON rounding)
        elif cue["kind"] == "say":
            assert rms_db(pcm, a, b) > -35, cue                    # speech inside say cues
        else:
            assert -45 < rms_db(pcm, a, b) < -20, cue              # a soft chime


def test_chime_is_soft_and_clickless(tmp_path, fixed_timeline):
    from sisessions.sources.chime import chime_pcm
    from sisessions.plan.timeline import CHIME_FRAMES

    pcm = array.array("h", chime_pcm(CHIME_FRAMES))
    assert pcm[0] == 0 and pcm[-1] == 0
    assert max(map(abs, pcm)) < 32768 * 10 ** (-12 / 20)          # peak below -12 dBFS
    assert max(abs(x) for x in pcm[:20]) < 200                     # a gentle attack, no click
    assert max(abs(pcm[i] - pcm[i - 1]) for i in range(1, len(pcm))) < 2000


def test_mp3_export_matches_timeline(tmp_path):
    tl = timeline("mini", "--side", "left")
    out = tmp_path / "mini.mp3"
    proc = run_cli("--scripts", LIB, "export", "mini", "--side", "left", "-o", out, check=0)
    assert "Wrote" in proc.stdout
    pcm = decode(out)
    assert len(pcm) / RATE == pytest.approx(tl["duration"], abs=0.05)
    for cue in tl["cues"]:
        a, b = round(cue["start"] * RATE), round((cue["start"] + cue["duration"]) * RATE)
        if cue["kind"] == "pause" and cue["duration"] >= 0.5:
            assert rms_db(pcm, a + 1500, b - 1500) < -60, cue      # 68 ms in from each edge
        elif cue["kind"] == "say":
            assert rms_db(pcm, a, b) > -35, cue
    probe = json.loads(subprocess.run(["/usr/bin/ffprobe", "-v", "error", "-show_streams", "-show_format",
                                       "-of", "json", str(out)], capture_output=True, check=True).stdout)
    st = probe["streams"][0]
    assert st["codec_name"] == "mp3" and st["channels"] == 1
    assert 56_000 <= int(probe["format"]["bit_rate"]) <= 72_000
    from mutagen.id3 import ID3

    tags = ID3(str(out))
    assert tags.version[:2] == (2, 3)
    assert str(tags["TIT2"]) == "Mini Session (left side)"
    assert str(tags["TPE1"]) == "sisessions" and str(tags["TALB"])


def test_export_into_folder_and_bitrate(tmp_path):
    d = tmp_path / "out"
    run_cli("--scripts", LIB, "export", "fixed", "-o", f"{d}/", "--bitrate", "96", check=0)
    f = d / "fixed.mp3"
    probe = subprocess.run(["/usr/bin/ffprobe", "-v", "error", "-show_entries", "format=bit_rate", "-of",
                            "csv=p=0", str(f)], capture_output=True, text=True, check=True).stdout
    assert 88_000 <= int(probe) <= 104_000


def test_bad_output_name_is_exit_2(tmp_path):
    proc = run_cli("--scripts", LIB, "export", "fixed", "-o", tmp_path / "x.ogg", check=2)
    assert ".mp3 or .wav" in proc.stderr and not (tmp_path / "x.ogg").exists()


def _start_long_export(tmp_path, out):
    """An export of a 40-minute session of three lines, so there is time to interrupt it."""
    run_cli("--scripts", LIB, "synth", "long", check=0)  # warm: the export itself is stopped
    return subprocess.Popen([sys.executable, "-m", "sisessions", "--scripts", str(LIB), "export", "long",
                             "-o", str(out), "--bitrate", "320"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"})


def _wait_for_part(folder: Path, proc, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        parts = list(folder.glob(".*.part"))
        if parts and parts[0].stat().st_size > 0:
            return parts
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the export never started writing")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["sigkill", "ctrl-c", "sigterm", "sighup"])
def test_interrupted_export_leaves_nothing_at_the_output_path(tmp_path, sig):
    out = tmp_path / "long.mp3"
    proc = _start_long_export(tmp_path, out)
    _wait_for_part(tmp_path, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert not out.exists()
    if sig != signal.SIGKILL:  # Ctrl-C, a shutdown, a closed terminal: all stop alike
        assert proc.returncode == 1
        assert err.strip().splitlines() == ["sisessions: Stopped."]
        assert not list(tmp_path.glob(".*"))  # no hidden .part for a sync tool to copy
    else:
        assert proc.returncode == -signal.SIGKILL


def test_part_left_by_sigkill_is_cleaned_by_the_next_export(tmp_path):
    out = tmp_path / "long.mp3"
    proc = _start_long_export(tmp_path, out)
    [part] = _wait_for_part(tmp_path, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert part.exists()
    # what is not ours, or is being written right now, stays
    theirs = [tmp_path / n for n in (".long.mp3.part", "photo.abcdefgh.part", ".notes.txt.abcdefgh.lock")]
    for f in theirs:
        f.write_bytes(b"yours")
    live = subprocess.Popen([sys.executable, "-c", "import sys, fcntl; f = open(sys.argv[1], 'wb'); "
                             "fcntl.flock(f, fcntl.LOCK_EX); print(1, flush=True); sys.stdin.read()",
                             str(tmp_path / ".other.mp3.k2j4l5m6.mp3.part")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert live.stdout.readline()  # locked, as an export in another process holds its part
    time.sleep(2.1)  # parts younger than 2 s are never touched
    try:
        run_cli("--scripts", LIB, "export", "mini", "--side", "left", "-o", tmp_path / "mini.mp3", check=0)
        assert not part.exists()
        assert all(f.read_bytes() == b"yours" for f in theirs)
        assert (tmp_path / ".other.mp3.k2j4l5m6.mp3.part").exists()
    finally:
        live.communicate("")


def test_stale_part_folders_are_cleaned_only_when_asked_and_not_held(tmp_path):
    """The split sets' temp folders (fileio.temp_dir): the same rule as files, opt-in."""
    from sisessions.fileio import clean_stale_parts, temp_dir

    stale = tmp_path / ".set.abcd1234.part"
    (stale / "01-arrive.mp3").parent.mkdir()
    (stale / "01-arrive.mp3").write_bytes(b"x")
    theirs = tmp_path / "set.abcd1234.part"                  # not hidden: not a name of ours
    theirs.mkdir()
    old = time.time() - 60
    for d in (stale, theirs):
        os.utime(d, (old, old))
    assert clean_stale_parts(tmp_path) == [] and stale.exists()
    with temp_dir(tmp_path / "live") as live:
        os.utime(live, (old, old))
        assert clean_stale_parts(tmp_path, dirs=True) == [stale]
        assert live.exists() and theirs.exists()


def test_sigterm_during_synthesis_stops_the_engine_workers(fresh_cache):
    from tests.conftest import engine_workers_of

    env = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
    p = subprocess.Popen([sys.executable, "-m", "sisessions", "synth", "towel", "--engine", "espeak"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    end, workers = time.time() + 120, []
    while time.time() < end and not (workers and list(fresh_cache.glob("clips/*/*.wav"))):
        workers = engine_workers_of(p.pid) or workers
        time.sleep(0.01)
    assert p.poll() is None and workers, "synthesis ended before it could be stopped mid-way"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 1 and err.strip().splitlines()[-1] == "sisessions: Stopped.", err
    assert not [w for w in workers if Path(f"/proc/{w}").exists()], "engine workers left running"
    assert not list(fresh_cache.glob("clips/*/.*"))


# ---------------------------------------------------------------- the spoken-word norm, once encoded


def decode_float(path: Path):
    """The decoded file as float samples, unclipped: an overshoot above full scale stays visible."""
    import numpy as np

    raw = subprocess.run(["/usr/bin/ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1",
                          "-ar", str(RATE), "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def true_peak_db(x, block=RATE * 10, pad=256) -> float:
    """loudness.true_peak over 10 s blocks (with overlap): a whole hour in one FFT would need GBs."""
    from sisessions.voice import loudness

    return max(loudness.true_peak(x[max(0, i - pad):i + block + pad]) for i in range(0, len(x), block))


def builtin_sessions() -> list[str]:
    from sisessions import paths

    return sorted(f.stem for f in (paths.builtin_scripts() / "sessions").glob("*.yaml"))


# The encoder's overshoot depends on everything encoded before a line (one clip measured -2.3
# or -1.2 dBTP depending on where encoding began) and on the take (a cold synthesis is not the
# same to the sample from run to run), so only whole exports show it. The bar is the norm
# itself: fresh runs measured the worst session between -2.4 and -1.35 dBTP.
NORM_DBTP, SPARE_DB = -1.0, 0.0


# Every built-in session with espeak, sides alternating; with the default voice (Piper, slower
# to synthesize) the shortest, `towel`. One test each, so that a run spreads them over its
# workers. The default voice over `check` too: benchmarks/true_peak.py (README says how).
NORM_CASES = [("espeak", s, ("left", "right")[n % 2]) for n, s in enumerate(builtin_sessions())] + [
    ("piper", "towel", "right")]


@pytest.mark.long
@pytest.mark.parametrize("engine, session, side", NORM_CASES, ids=[f"{e}-{s}" for e, s, _ in NORM_CASES])
def test_every_builtin_session_meets_the_spoken_word_norm_once_encoded(tmp_path, engine, session, side):
    """True peak <= -1 dBTP and -16 +-1 LUFS, on the MP3 itself. --pace 0.5 keeps every line
    and halves the silences."""
    out = tmp_path / f"{session}.mp3"
    run_cli("export", session, "--side", side, "--engine", engine, "--pace", "0.5", "--no-sidecars", "-o", out,
            check=0)
    # the true peak as the norm defines it (4x oversampled), over every stretch of the file: the
    # program measures only the stretches near the norm (output/mp3.py). ffmpeg's meter reads
    # peaks up to 0.2 dB higher (it oversamples more finely), so it gives the loudness only.
    tp = round(true_peak_db(decode_float(out)), 2)
    lufs, _ = ebur128(out)
    print(f"{engine} {session} ({side}): {tp} dBTP, {lufs} LUFS")
    assert tp <= NORM_DBTP - SPARE_DB, (tp, lufs)
    assert abs(lufs + 16) <= 1, (tp, lufs)


def test_disk_full_is_one_sentence_and_no_file(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("mounting a tiny tmpfs needs root (CI runs as root)")
    try:
        proc = run_cli("--scripts", LIB, "export", "mini", "--side", "left", "-o", mnt / "mini.wav")
        assert proc.returncode == 1, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
        assert "space" in proc.stderr.lower()
        assert not (mnt / "mini.wav").exists() and not list(mnt.glob(".*"))
    finally:
        subprocess.run(["umount", str(mnt)])


def _square(seconds: float, level: float) -> bytes:
    """A 220 Hz square wave with its samples at `level` of full scale: the encoder's low-pass
    rings on every edge, so the MP3's true peak lands well above its samples."""
    import numpy as np

    t = np.arange(int(RATE * seconds))
    return (np.sign(np.sin(2 * np.pi * 220 * t / RATE)) * level * 32767).astype("<i2").tobytes()


def test_an_mp3_over_the_true_peak_norm_is_encoded_again_a_little_quieter(tmp_path):
    """Issue 21, item 10: the encoded file itself is measured; over -1 dBTP, it is encoded again
    from the same audio, a little quieter, and then meets the norm."""
    from sisessions.output import mp3

    pcm, made = _square(6, 0.89), []  # samples at -1 dBFS

    def chunks():
        made.append(1)
        return (pcm[i:i + 8192] for i in range(0, len(pcm), 8192))

    plain = tmp_path / "plain.mp3"
    mp3.encode_mp3(chunks(), plain)
    before = true_peak_db(decode_float(plain))
    assert before > NORM_DBTP + 0.5, before  # the case: over the norm once encoded
    assert abs(mp3.true_peak_db(plain) - before) <= 0.05  # the program's own measure agrees
    made.clear()
    out = tmp_path / "again.mp3"
    mp3.write_mp3(chunks, out)
    after = true_peak_db(decode_float(out))
    assert after <= NORM_DBTP, (before, after)
    assert after >= NORM_DBTP - 1.5, (before, after)  # a little quieter, not much
    assert len(made) == 2  # the audio made anew for the second encode, not the MP3 re-encoded
    assert ebur128(plain)[0] - ebur128(out)[0] <= before - NORM_DBTP + 1.0


def test_an_mp3_within_the_norm_is_encoded_once_and_unchanged(tmp_path):
    from sisessions.output import mp3

    pcm, made = _square(6, 0.3), []  # -10 dBFS

    def chunks():
        made.append(1)
        return iter([pcm])

    mp3.encode_mp3(chunks(), tmp_path / "plain.mp3")
    mp3.write_mp3(chunks, tmp_path / "kept.mp3")
    assert len(made) == 2 and (tmp_path / "kept.mp3").read_bytes() == (tmp_path / "plain.mp3").read_bytes()
    assert mp3.true_peak_db(tmp_path / "kept.mp3") < NORM_DBTP
