"""`play --bed`: the bed mixed live by the feeder. In process: the feeder's frames against the
export's, and pauses and jumps without a click. End to end through a private PulseAudio null
sink: the level in a silence, the bed gone under every line, the same sound as the export, and
silence while paused."""
from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

from sisessions import app
from sisessions.sources import bed as beds
from sisessions.output.render import render
from sisessions.play.device import QUEUED
from tests.audio_server import RATE, Recorder, best_match
from tests.conftest import FIXTURES
from tests.play.helpers import CHOICES, SCRIPTS, VOICE, Pty, child_env

LEVEL = 10 ** (beds.LEVEL / 20) * 32768      # the bed's RMS in a silence, in int16 steps
# The end-to-end tests play `bed` from its pattern `hush`: line, 5 s, line, 5 s, line, 5 s, line
# (17 s; the middle silence is measured, away from the bed's fades).
BED_SCRIPTS = FIXTURES / "bed"


def session(name: str = "listen", scripts=SCRIPTS):
    """(prepared, speech, timeline) of a fixture session; `listen` has 5-second silences."""
    prepared = app.prepare(app.open_library((str(scripts),)), name, CHOICES)
    speech = app.open_speech(CHOICES)
    return prepared, speech, app.plan(prepared, speech)


def pcm(chunks) -> np.ndarray:
    return np.frombuffer(b"".join(chunks), "<i2").astype(np.float64)


def dbfs(x: np.ndarray) -> float:
    return 20 * np.log10(max(float(np.sqrt(np.mean(x * x))), 1e-9) / 32768)


@pytest.fixture
def live():
    """A feeder over the `listen` fixture with every clip in memory and a brown bed."""
    from sisessions.play.bed import LiveBed
    from sisessions.play.feeder import Feeder
    from sisessions.play.prefetch import Clips
    from sisessions.play.program import Program

    prepared, speech, tl = session()
    titles = {it.pattern: prepared.library.pattern(it.pattern).title for it in prepared.session.items}
    program = Program(prepared.events, titles, 200)
    clips = Clips(speech, program)
    for e in program.events:
        if e.kind == "say":
            clips._voice(e.text)

    def feeder(start: int = 0):
        bed = LiveBed.open(beds.Bed("brown"), speech.cache.root, program)
        return Feeder(program, clips, start, bed=bed)

    yield program, speech, tl, feeder
    speech.close()


# ---------------------------------------------------------------- in process


def test_the_live_bed_is_the_exports_sample_for_sample(live):
    """Chunks of any size (the output asks for what it needs) give the export's frames."""
    _, speech, tl, feeder = live
    ref = pcm(render(tl, speech, 0, beds.Bed("brown")))
    f = feeder()
    rng = np.random.default_rng(7)
    out = []
    while not f.finished:
        out.append(f.read(int(rng.integers(30, 1500))))
    got = pcm(out)
    assert len(got) >= len(ref)
    assert np.abs(got[:len(ref)] - ref).max() <= 1    # rounding, nothing more
    assert not got[len(ref):].any()                   # faded to zero at the last frame
    silence = next(c for c in tl.cues if c.kind == "pause" and c.start > beds.FADE_IN * RATE)
    mid = got[silence.start + 2 * RATE: silence.start + 3 * RATE]
    assert dbfs(mid) == pytest.approx(beds.LEVEL, abs=1.0)


def steps(x: np.ndarray) -> float:
    """The largest sample-to-sample step: a click is a step far above the bed's own."""
    return float(np.abs(np.diff(x)).max())


def test_pause_stops_the_bed_and_resume_fades_it_in_without_a_click(live):
    _, _, tl, feeder = live
    f = feeder()
    silence = next(c for c in tl.cues if c.kind == "pause" and c.start > beds.FADE_IN * RATE)
    before = pcm([f.read(silence.start + 2 * RATE)])
    steady = steps(before[-RATE:])
    assert dbfs(before[-RATE:]) == pytest.approx(beds.LEVEL, abs=1.0)
    f.toggle_pause()
    cut = pcm([f.read(RATE)])
    assert steps(np.concatenate([before[-10:], cut[:400]])) <= 1.5 * steady
    assert not cut[RATE // 100:].any()                 # 10 ms of fade, then digital silence
    assert not pcm([f.read(RATE)]).any()
    f.toggle_pause()
    back = pcm([f.read(k) for k in [200] * 30 + [RATE * 3]])
    assert steps(np.concatenate([[0.0], back[:RATE // 2]])) <= 1.5 * steady
    # the raised-cosine fade-in again, as at the start (over FADE_IN seconds): faint at first,
    # then rising (the next line, 3 s on, dips it again)
    early, later = dbfs(back[RATE:int(1.5 * RATE)]), dbfs(back[2 * RATE:int(2.5 * RATE)])
    assert dbfs(back[:RATE // 4]) < beds.LEVEL - 20
    assert early + 3 < later < beds.LEVEL - 3 and later > beds.LEVEL - 15


def test_a_jump_crossfades_the_bed_and_it_is_gone_under_the_next_line(live):
    program, _, tl, feeder = live
    f = feeder()
    silence = next(c for c in tl.cues if c.kind == "pause" and c.start > beds.FADE_IN * RATE)
    before = pcm([f.read(silence.start + 2 * RATE)])
    steady = steps(before[-RATE:])
    target = program.back_target(f.index)           # b: the start of this pattern, a line
    f.seek(target)
    line = program.lengths[target]
    after = pcm([f.read(k) for k in [100] * 10 + [line]])
    clip = np.frombuffer(f.clips.pcm(program.events[target].text), "<i2").astype(np.float64)
    # from a silence there is no voice to fade: the line starts at once, and over its first
    # 10 ms the bed from before the jump fades out where it was (no step in the waveform)...
    tail = after[:len(clip)] - clip
    assert tail[:RATE // 100].any()
    assert steps(np.concatenate([before[-10:], tail[:RATE // 100 + 10]])) <= 1.5 * steady
    # ...and after that the line is its clip alone: the bed is gone under a line
    assert not tail[RATE // 100:].any()


# ---------------------------------------------------------------- end to end


def bed_args(*extra) -> list[str]:
    return [sys.executable, "-m", "sisessions", "--scripts", str(BED_SCRIPTS), "play", "bed", *VOICE, "--from", "hush",
            *extra]


def BedPty(*extra) -> Pty:  # noqa: N802 (used like the class it stands for)
    """test_play's terminal, playing the `bed` fixture from its silences instead."""
    return Pty(args=bed_args(*extra))


@pytest.fixture
def warm_bed():
    rendered(None)


def rendered(bed: str | None, start: str = "hush") -> tuple[np.ndarray, int]:
    """The `bed` session from `start` as export renders it, and its first frame."""
    _, speech, tl = session("bed", BED_SCRIPTS)
    try:
        i = next(k for k, c in enumerate(tl.cues) if c.pattern == start)
        return pcm(render(tl, speech, i, beds.Bed(bed) if bed else None)), tl.cues[i].start
    finally:
        speech.close()


def wave_lag(heard: np.ndarray, ref: np.ndarray, near: int, search: int = 600) -> int:
    """Where `ref` starts in the recording, to the sample, within `search` of `near`."""
    lo = max(0, near - search)
    seg = heard[lo: near + len(ref) + search]
    c = np.correlate(seg, ref[: min(len(ref), len(seg) - 2 * search)], "valid")
    return lo + int(np.argmax(c))


def stretch(heard: np.ndarray, part: np.ndarray, near: int) -> np.ndarray:
    """The recording's stretch that is `part` (a line, a silence of the bed), aligned on its own
    wave within 1/8 s of `near`: a start on a busy machine that came 50 ms late shifts all that
    follows it, and that is not what these tests measure (a dropout inside the stretch still shows)."""
    at = wave_lag(heard, part, near, search=RATE // 8)
    out = heard[at: at + len(part)]
    return np.concatenate([out, np.zeros(len(part) - len(out))])


def align(heard: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, int]:
    """The stretch of the recording that is `ref`, to the sample (the envelope, then the wave),
    and where it starts."""
    lag = wave_lag(heard, ref, best_match(heard, ref)[1])
    out = heard[lag: lag + len(ref)]
    return np.concatenate([out, np.zeros(len(ref) - len(out))]), lag


def bed_gain(residual: np.ndarray, unit: np.ndarray) -> float:
    """How much of the full-level bed is in `residual` (1.0: all of it; 0: none), by projection:
    speech and the server's resampling are not correlated with the noise."""
    return float(np.dot(residual, unit) / np.dot(unit, unit))


def test_play_mixes_the_bed_as_export_does(pulse, warm_bed):
    ref, first = rendered("brown")
    dry, _ = rendered(None)
    with Recorder(pulse) as rec:
        proc = subprocess.run(bed_args("--bed", "brown"), env=child_env(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and "not played live" not in proc.stdout
    heard, lag = align(rec.samples, ref)
    unit = beds.builtin("brown")[np.arange(first, first + len(ref)) % (beds.LOOP_SECONDS * RATE)] * LEVEL
    # the timeline from --from hush: line, 5 s, line, 5 s, line, 5 s, line
    _, speech, tl = session("bed", BED_SCRIPTS)
    speech.close()
    cues = [c for c in tl.cues if c.start >= first]
    lines = [(c.start - first, c.end - first) for c in cues if c.kind == "say"]
    # a silence away from the fades: 1 s after a line to 0.4 s before the next, from 6 s on
    a, b = lines[1][1] + int(1.1 * RATE), lines[2][0] - int(0.5 * RATE)
    assert b - a > 2 * RATE
    quiet = stretch(rec.samples, ref[a:b], lag + a)
    level = dbfs(quiet)
    print(f"bed in a silence: {level:.1f} dBFS (export {dbfs(ref[a:b]):.1f}); "
          f"gain by projection {bed_gain(quiet - dry[a:b], unit[a:b]):.3f}")
    assert level == pytest.approx(beds.LEVEL, abs=2.0)
    assert bed_gain(quiet - dry[a:b], unit[a:b]) == pytest.approx(1.0, abs=0.15)
    assert np.corrcoef(quiet, ref[a:b])[0, 1] > 0.9    # the export's bed, in phase
    whole = 0
    for s, e in lines:
        said = stretch(rec.samples, dry[s:e], lag + s)   # each line on its own voice
        q = (e - s) // 4
        g = bed_gain(said[q:e - s - q] - dry[s + q:e - q], unit[s + q:e - q])
        # a line the output broke off and took up again (a dropout on a busy machine) cannot be
        # subtracted from its voice: it is told, and the whole lines must show no bed
        voice = np.corrcoef(said, dry[s:e])[0, 1]
        intact = voice >= 0.9
        print(f"line at {s / RATE:.1f} s: bed gain {g:.3f}, voice {voice:.3f}{'' if intact else ' (broken off)'}")
        if intact:
            whole += 1
            assert abs(g) < 0.1, "the bed is heard under a line"
    assert whole >= len(lines) - 1, "more than one line was broken off"
    corr, _ = best_match(heard, ref)
    assert corr >= 0.95


def test_pause_stops_the_bed(pulse, warm_bed):
    t = BedPty("--bed", "brown")
    t.wait_for("Breathe out")
    time.sleep(1.8)                          # into the 5 s silence after it: the bed at its level
    with Recorder(pulse) as playing:
        time.sleep(0.7)
    t.key(" ")
    t.wait_for("paused")
    time.sleep(0.3 + QUEUED)                 # what the output had queued is heard out first
    with Recorder(pulse) as paused:
        time.sleep(1.5)
    t.key(" ")
    time.sleep(0.3)
    with Recorder(pulse) as resumed:         # about 2 s of the silence were left: the bed fades in
        time.sleep(1.2)
    t.key("q")
    assert t.finish() == 0
    print(f"playing {dbfs(playing.samples[RATE // 5:]):.1f} dBFS, paused {dbfs(paused.samples):.1f}, "
          f"resumed {dbfs(resumed.samples[: len(resumed.samples) // 2]):.1f} then "
          f"{dbfs(resumed.samples[len(resumed.samples) // 2:]):.1f}")
    assert dbfs(playing.samples[RATE // 5:]) == pytest.approx(beds.LEVEL, abs=2.0)
    assert dbfs(paused.samples) < beds.LEVEL - 40           # nothing: the person paused
    first, second = (dbfs(x) for x in np.array_split(resumed.samples, 2))
    assert beds.LEVEL - 35 < second < beds.LEVEL and first + 3 < second  # back, fading in
