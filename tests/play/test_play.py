"""`sisessions play` end to end through a private PulseAudio server: what the null sink's
monitor heard is compared with the rendered session, for both players; keys go through a
pseudo-terminal; Ctrl-C, no server, a server that dies mid-session, and the log record."""
from __future__ import annotations

import signal
import subprocess
import time

import numpy as np
import pytest

from sisessions import app
from sisessions.play.device import QUEUED
from sisessions.practice import log
from tests.audio_server import RATE, PulseServer, Recorder, best_match, envelope, loud
from tests.play.helpers import CHOICES, SAFETY_START, SCRIPTS, Pty, child_env, play_args, rendered


def records() -> list[dict]:
    """The practice log's records as their JSON objects, as a person reading the file sees them."""
    recs, warnings = log.read()
    assert warnings == []
    return [log.to_json(r) for r in recs]


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
    # simpleaudio (the fallback) starts each cue by a clock thread, which a busy machine wakes
    # late; miniaudio streams from a queue deep enough to ride that out (device.BUFFER_MS)
    assert corr >= (0.9 if player == "miniaudio" else 0.8)
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


def test_space_pauses_the_sound_and_resumes_the_line(pulse, warm):
    t = Pty()
    t.wait_for(SAFETY_START)
    time.sleep(1.0)                         # mid-way through the long safety line
    t.key(" ")
    t.wait_for("paused")
    time.sleep(0.3 + QUEUED)                # what the output had queued is heard out first
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
    with Recorder(pulse) as rec:
        t = Pty()
        t.wait_for(SAFETY_START)
        time.sleep(0.5)
        pressed = time.monotonic()
        t.key("n")
        t.wait_for("pain now: 0-9")          # the check-in at the end (SPEC §8): q leaves it
        t.key("q")
        assert t.finish() == 0
    corr, lag = best_match(rec.samples, ref)
    assert corr >= 0.9
    # the first pattern was heard from its start right after the key, where the opening line
    # would otherwise have gone on for six more seconds
    assert 0 <= rec.time_of(lag) - pressed < 1.0
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
    assert first - start < 3.0                       # the announcement comes at once
    assert 3.6 < session_start - first < 4.6         # the session begins 4 s after it
    assert records()[0]["minutes"] == pytest.approx(len(ref) / RATE / 60, abs=0.01)


def test_from_an_unknown_pattern_is_the_users_mistake(warm):
    proc = subprocess.run(play_args("--from", "nope"), env=child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "sisessions: --from nope: that pattern is not in session 'short' today."


def test_cold_cache_synthesizes_ahead_and_plays_the_session(pulse, fresh_cache):
    """Nothing cached: the voice runs ahead in the background and what is heard is still the
    session (the time to first sound is measured by benchmarks/play_start.py)."""
    start = time.monotonic()
    with Recorder(pulse) as rec:
        proc = subprocess.run(play_args("--from", "roll"), env=child_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    windows = loud(rec.samples)
    print(f"cold: first sound {rec.time_of(int(windows[0]) * (RATE // 50)) - start:.2f} s after start")
    corr, _ = best_match(rec.samples, rendered("roll"))
    assert corr >= 0.9
    assert records()[0]["completed"] is True


# ---------------------------------------------------------------- the parts, without sound


@pytest.fixture
def parts(warm):
    from sisessions.play.feeder import Feeder
    from sisessions.play.prefetch import Clips
    from sisessions.play.program import Program

    prepared = app.prepare(app.open_library((str(SCRIPTS),)), "short", CHOICES)
    speech = app.open_speech(CHOICES)
    s = prepared.session
    titles = {it.pattern: prepared.library.pattern(it.pattern).title for it in s.items}
    program = Program(prepared.events, titles, 200)
    clips = Clips(speech, program)
    yield program, clips, Feeder
    speech.close()


def kinds(program, start, end):
    return [(e.kind, e.text) for e in program.events[start:end]]


def test_blocks_and_where_the_keys_go(parts):
    program, _, _ = parts
    reach, roll = program.blocks
    assert (reach.pattern, reach.number, roll.pattern, roll.number) == ("reach", 1, "roll", 2)
    assert kinds(program, reach.start, reach.start + 1) == [("say", "Lie on your back.")]
    assert kinds(program, roll.start, roll.start + 1) == [("say", "Knees to one side.")]
    safety, rest = 0, reach.end                 # the opening line; the rest between the two
    assert program.next_target(safety) == reach.start
    assert program.next_target(reach.start + 2) == roll.start
    assert program.next_target(rest) == roll.start
    assert program.next_target(roll.start + 1) is None      # nothing after the last pattern
    assert program.back_target(reach.start + 3) == reach.start
    assert program.back_target(rest) == reach.start          # in a rest: the pattern just done
    assert program.back_target(safety) == 0
    assert program.from_pattern("roll", "short") == roll.start


def test_feeder_gives_exact_frames_and_waits_for_a_line_at_its_boundary(parts):
    program, clips, Feeder = parts
    clips.prime(program.blocks[0].start)
    start = program.blocks[0].start
    lie = program.events[start].text
    f = Feeder(program, clips, start)
    assert clips.pcm(lie) is not None          # primed: the first line is in memory
    first = f.read(1000)
    assert len(first) == 2000 and first == clips.pcm(lie)[:2000]
    # the next line is not loaded yet (the background thread is not running): silence at the
    # boundary, never a cut into the line
    f.read(program.lengths[start] - 1000 + program.lengths[start + 1])
    assert f.index == start + 2 and f.offset == 0
    assert f.read(500) == bytes(1000) and f.waiting and f.index == start + 2
    clips._voice(program.events[start + 2].text)
    assert f.read(500) == clips.pcm("Reach up.")[:1000]
    assert f.wait_frames == 500


def loud_frame(pcm: bytes) -> int:
    """A frame in the middle of speech: the fades below start from sound, not a gap."""
    x = np.frombuffer(pcm, dtype="<i2")
    return int(np.argmax(np.abs(x)))


def test_pause_silences_and_says_the_line_again_on_resume(parts):
    program, clips, Feeder = parts
    clips.prime(0)
    f = Feeder(program, clips, 0)
    line = clips.pcm(program.events[0].text)
    f.read(loud_frame(line))
    f.toggle_pause()
    faded = f.read(400)
    assert faded[:440] != bytes(440) and faded[440:] == bytes(360)  # a 10 ms fade, then silence
    assert f.read(2000) == bytes(4000)
    f.toggle_pause()
    assert f.read(3000) == line[:6000]                            # the line from its start


def test_seek_fades_out_and_jumps_to_the_target(parts):
    program, clips, Feeder = parts
    clips.prime(0)
    f = Feeder(program, clips, 0)
    f.read(loud_frame(clips.pcm(program.events[0].text)))
    target = program.blocks[1].start
    clips._voice(program.events[target].text)
    f.seek(target)
    out = f.read(2000)
    fade = out[:2 * 220]
    assert max(abs(int.from_bytes(fade[i:i + 2], "little", signed=True)) for i in range(0, len(fade), 2)) > 0
    assert out[2 * 220:] == clips.pcm("Knees to one side.")[:2 * (2000 - 220)]
    assert f.last_say == target
