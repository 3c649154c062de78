"""MPRIS while `play` runs, driven by playerctl (a client we did not write) over a private
D-Bus session bus per test, with what the private PulseAudio null sink played measured; and
what the calls do to the sound, read from the frames the output pulls (no real time)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sisessions import app
from sisessions.play import mpris
from sisessions.play.feeder import FADE_FRAMES
from sisessions.play.mpris import NO_BUS
from sisessions.practice import log
from tests.audio_server import RATE, Recorder, envelope, loud
from tests.conftest import missing_on_ci
from tests.play.helpers import CHOICES, SAFETY_START, SCRIPTS, Pty, child_env, play_args, rendered

pytestmark = pytest.mark.skipif(
    missing_on_ci(shutil.which("playerctl") is None or shutil.which("dbus-daemon") is None),
    reason="`bash setup.sh --test` installs dbus and playerctl (on CI a missing one fails)")


class Bus:
    """A private session bus (never the user's): its own dbus-daemon, killed at the end."""

    def __init__(self):
        self.proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     start_new_session=True)
        self.address = self.proc.stdout.readline().strip()
        assert self.address.startswith("unix:"), self.address

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def bus(monkeypatch):
    b = Bus()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", b.address)
    yield b
    b.kill()


def records() -> list[dict]:
    recs, warnings = log.read()
    assert warnings == []
    return [log.to_json(r) for r in recs]


def playerctl(*args, player: str = "sisessions") -> str:
    p = subprocess.run(["playerctl", "-p", player, *args], env=child_env(), capture_output=True,
                       text=True, timeout=10)
    return p.stdout.strip()


def players() -> list[str]:
    p = subprocess.run(["playerctl", "-l"], env=child_env(), capture_output=True, text=True, timeout=10)
    return p.stdout.split()


class Play:
    """`sisessions play short` in the background, its stdout gathered."""

    def __init__(self, *extra, debug: bool = False):
        args = play_args(*extra)
        if debug:
            args.insert(3, "--debug")
        self.proc = subprocess.Popen(args, env=child_env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.out.append(line)

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in ln for ln in self.out):
            assert time.monotonic() < deadline, f"never printed {text!r}: {self.out}"
            assert self.proc.poll() is None, self.proc.stderr.read()
            time.sleep(0.02)

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        rc = self.proc.wait(timeout)
        self._t.join(2)
        return rc, "".join(self.out), self.proc.stderr.read()


def wait_listed(name: str = "sisessions", timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while name not in players():
        assert time.monotonic() < deadline, f"{name} never appeared on the bus: {players()}"
        time.sleep(0.05)


def wait_title(title: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while playerctl("metadata", "xesam:title") != title:
        assert time.monotonic() < deadline, f"title never became {title!r}"
        time.sleep(0.05)


def planned_us(pattern: str) -> int:
    """The pattern's length as `show` plans it, in microseconds."""
    prepared = app.prepare(app.open_library((str(SCRIPTS),)), "short", CHOICES)
    with app.speech_session(CHOICES, None) as speech:
        tl = app.plan(prepared, speech)
    frames = sum(c.frames for c in tl.cues if c.pattern == pattern)
    return frames * 1_000_000 // RATE


# ---------------------------------------------------------------- reading the player


def test_playerctl_lists_it_reads_it_and_stop_ends_the_session_as_stopped(pulse, warm, bus):
    p = Play("--from", "reach")
    wait_listed()
    wait_title("Slow Reach")
    assert playerctl("metadata", "xesam:album") == "Short Test Session"
    assert playerctl("metadata", "xesam:artist") == "sisessions"
    assert int(playerctl("metadata", "mpris:length")) == pytest.approx(planned_us("reach"), abs=1000)
    assert playerctl("metadata", "mpris:trackid") == "'/org/sisessions/track/item1'"
    art = playerctl("metadata", "mpris:artUrl")
    assert art.startswith("file:///")
    assert Path(art[len("file://"):]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert playerctl("status") == "Playing"
    assert 0 <= float(playerctl("position")) * 1e6 <= planned_us("reach")     # seconds, within the pattern
    subprocess.run(["playerctl", "-p", "sisessions", "stop"], env=child_env(), check=True, timeout=10)
    rc, out, err = p.finish()
    assert rc == 0, err
    assert "Stopped in Slow Reach" in out
    [r] = records()
    assert r["completed"] is False and r["stopped_in"] == "reach"
    assert not os.path.exists(art[len("file://"):])            # the cover goes with the session


# ---------------------------------------------------------------- the calls, on the frames
# The MPRIS calls go to the controller as keys do (mpris.METHODS); what they do to the sound is
# read here from the frames the output pulls, the frame count being the clock, so that no
# margin depends on how busy the machine is. tests/play/test_play.py hears the same pause,
# resume and jump end to end through the keys.


def frames(c, f, n: int) -> np.ndarray:
    """The output pulling `n` frames, 20 ms at a time, then one turn of the session loop."""
    out = []
    while n > 0:
        out.append(f.read(min(441, n)))
        n -= 441
    c.pump()
    return np.frombuffer(b"".join(out), "<i2").astype(np.int64)


def clip_of(f, text: str) -> np.ndarray:
    return np.frombuffer(f.clips.pcm(text), "<i2").astype(np.int64)


def test_pause_silences_at_once_position_stops_and_play_says_the_line_again(play):
    c, f, _ = play()
    assert len(loud(frames(c, f, RATE)[-RATE // 2:])) > 10        # a second into the opening's first line
    line = c.now().line
    assert c.do(mpris.METHODS["Pause"]) and mpris.status(c.now()) == "Paused"
    pos = mpris.us(c.now().item_position)
    cut = frames(c, f, RATE)
    assert cut[:FADE_FRAMES].any() and not cut[FADE_FRAMES:].any()   # 10 ms of fade, then silence
    assert mpris.us(c.now().item_position) == pos                  # Position stops with the sound
    assert c.do(mpris.METHODS["Play"]) and mpris.status(c.now()) == "Playing"
    said = clip_of(f, line)
    assert np.array_equal(frames(c, f, len(said)), said)           # the interrupted line, whole, at once


def test_next_moves_title_and_sound_to_the_next_pattern_and_previous_goes_back(play):
    c, f, _ = play()
    frames(c, f, int(0.8 * RATE))
    assert mpris.properties(c.now(), "x")["Metadata"]["xesam:title"] == ("s", "Opening")
    first = clip_of(f, "Lie on your back.")                        # how Slow Reach begins
    for call in ("Next", "Previous"):
        assert c.do(mpris.METHODS[call])
        md = mpris.properties(c.now(), "x")["Metadata"]
        assert md["xesam:title"] == ("s", "Slow Reach") and md["mpris:trackid"] == ("o", f"{mpris.TRACK_PATH}/item1")
        assert c.now().item_position == 0                          # Position: the pattern's start
        heard = frames(c, f, FADE_FRAMES + len(first))
        # at once: after the 10 ms fade of a line being said, or straight from a silence
        assert any(np.array_equal(heard[k:k + len(first)], first) for k in (0, FADE_FRAMES)), call
        frames(c, f, int(0.7 * RATE))                              # then on into the pattern


def test_every_change_is_signalled_and_a_jump_is_seeked(pulse, warm, bus):
    """PropertiesChanged for status and title as they change (playerctl --follow relies on
    it), and Seeked with the new position after a jump, as dbus-monitor sees them."""
    mon = subprocess.Popen(["dbus-monitor", "--address", bus.address,
                            "type='signal',path='/org/mpris/MediaPlayer2'"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    follow = subprocess.Popen(["playerctl", "-p", "sisessions", "--follow", "metadata", "--format",
                               "{{status}} {{xesam:title}}"], env=child_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        p = Play()
        p.wait_for(SAFETY_START)
        wait_listed()
        time.sleep(0.5)
        playerctl("pause")
        time.sleep(0.3)
        playerctl("next")                        # a jump also resumes, as n does
        wait_title("Slow Reach")
        time.sleep(0.3)
        playerctl("stop")
        assert p.finish()[0] == 0
        time.sleep(0.3)
    finally:
        for proc in (mon, follow):
            proc.terminate()
    seen = follow.communicate(timeout=5)[0].splitlines()
    monitor = mon.communicate(timeout=5)[0]
    seen = [ln for ln in seen if ln]
    # (playerctl prints once per property, so "Paused Slow Reach" may come between the last two)
    assert seen[0] == "Playing Opening" and "Paused Opening" in seen, seen
    assert seen.index("Playing Slow Reach") > seen.index("Paused Opening"), seen
    assert "PropertiesChanged" in monitor and '"Paused"' in monitor
    seeked = monitor[monitor.index("member=Seeked"):]
    assert seeked.split("int64 ")[1].split()[0].isdigit()   # the position after the jump
    assert "string \"Stopped\"" in monitor


# ---------------------------------------------------------------- names and buses


def test_two_players_at_once_get_distinct_names(pulse, warm, bus):
    a = Play()
    a.wait_for(SAFETY_START)
    wait_listed()
    b = Play()
    b.wait_for(SAFETY_START)
    wait_listed(f"sisessions.instance{b.proc.pid}")
    assert sorted(players()) == sorted(["sisessions", f"sisessions.instance{b.proc.pid}"])
    playerctl("stop", player=f"sisessions.instance{b.proc.pid}")
    assert b.finish()[0] == 0
    assert a.proc.poll() is None                   # stopping one leaves the other playing
    playerctl("stop")
    assert a.finish()[0] == 0


def test_a_bus_that_disappears_mid_session_does_not_stop_the_sound(pulse, warm, bus):
    with Recorder(pulse) as rec:
        p = Play("--from", "reach", debug=True)
        wait_listed()
        killed = time.monotonic()
        bus.kill()
        rc, out, err = p.finish()
    assert rc == 0, err
    assert "Done: Short Test Session" in out
    assert out.count("D-Bus session bus went away") == 1
    heard = rec.samples[rec.sample_at(killed):]
    ref = rendered("reach")
    assert len(loud(heard)) >= 0.8 * len(loud(ref[RATE // 2:]))   # the rest of it, played on
    assert records()[0]["completed"] is True


# (no address and no --debug is not asked: then MPRIS is never even started)
@pytest.mark.parametrize("address, debug", [(None, True), ("unix:path=/nonexistent/bus", True),
                                            ("unix:path=/nonexistent/bus", False)])
def test_no_bus_plays_as_before_with_one_line_under_debug(pulse, warm, monkeypatch, address, debug):
    if address is None:
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    p = Play("--from", "roll", debug=debug)
    rc, out, err = p.finish()
    assert rc == 0 and err == ""
    assert "Done: Short Test Session" in out
    notes = [ln for ln in out.splitlines() if "D-Bus" in ln]
    assert len(notes) == (1 if debug else 0), out
    if debug and address is None:
        assert NO_BUS in notes[0]


def test_a_key_and_an_mpris_call_go_through_one_controller(pulse, warm, bus):
    """Space from the terminal pauses; MPRIS sees it at once, and its Play resumes it."""

    t = Pty()
    t.wait_for(SAFETY_START)
    wait_listed()
    t.key(" ")
    t.wait_for("paused")
    time.sleep(0.3)
    assert playerctl("status") == "Paused"
    playerctl("play")
    time.sleep(0.3)
    assert playerctl("status") == "Playing"
    t.key("q")
    assert t.finish() == 0
    [r] = records()
    assert r["completed"] is False


def test_controller_is_one_lock_for_many_threads(warm):
    """Inputs on several threads at once while the audio thread reads: every action lands whole
    (a jump never interleaves with a pause), and quiet() tells a listener when to listen."""
    from sisessions.play.controls import Controller
    from sisessions.play.feeder import Feeder
    from sisessions.play.prefetch import Clips
    from sisessions.play.program import Program

    prepared = app.prepare(app.open_library((str(SCRIPTS),)), "short", CHOICES)
    speech = app.open_speech(CHOICES)
    try:
        titles = {it.pattern: prepared.library.pattern(it.pattern).title for it in prepared.session.items}
        program = Program(prepared.events, titles, 200)
        clips = Clips(speech, program)
        clips.prime(0)
        for text in program.texts():
            clips._voice(text)
        f = Feeder(program, clips, 0)
        c = Controller(program, f)
        assert not c.quiet()                       # the opening line is being said
        c.pause()
        assert c.quiet() and c.paused
        c.resume()
        errors = []
        stop = threading.Event()

        def audio():
            while not stop.is_set():
                f.read(256)

        def press(actions):
            try:
                for k in range(300):
                    actions[k % len(actions)]()
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=audio)] + [
            threading.Thread(target=press, args=(acts,)) for acts in
            ([c.next, c.back], [c.toggle, c.repeat], [c.back, c.toggle, c.next])]
        for th in threads:
            th.start()
        for th in threads[1:]:
            th.join(30)
        stop.set()
        threads[0].join(5)
        assert errors == []
        index, offset = f.where()
        assert 0 <= index <= len(program.events) and offset >= 0
        # a pattern's start after the last jump, whatever order the threads ran in
        c.resume()
        c.back()
        index, offset = f.where()
        assert offset == 0 and index in {b.start for b in program.blocks} | {0}
        pause_at = next(i for i, e in enumerate(program.events) if e.kind == "pause" and i > program.first)
        f.seek(pause_at)
        f.read(10)
        assert c.quiet()                           # in a silence: a listener may listen
        c.stop()
        assert c.stopped and c.quiet() and not c.next()
    finally:
        speech.close()


def test_sigterm_still_ends_cleanly_with_mpris(pulse, warm, bus):
    p = Play()
    p.wait_for(SAFETY_START)
    wait_listed()
    p.proc.send_signal(signal.SIGTERM)
    rc, _, err = p.finish()
    assert rc == 1 and err.startswith("sisessions: Stopped")
    assert np.isfinite(records()[0]["minutes"])


# ---------------------------------------------------------------- the desktop entry and volume


def busctl_get(interface: str, prop: str) -> str:
    p = subprocess.run(["busctl", "--user", "get-property", "org.mpris.MediaPlayer2.sisessions",
                        "/org/mpris/MediaPlayer2", interface, prop], env=child_env(), capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_desktop_entry_names_the_desktop_file_installed_with_its_icon(pulse, warm, bus, tmp_path):
    import configparser
    import sys

    p = Play()
    wait_listed()
    assert busctl_get("org.mpris.MediaPlayer2", "DesktopEntry") == 's "sisessions"'
    playerctl("stop")
    assert p.finish()[0] == 0
    # a real install (a wheel built from this tree) puts the entry and the icon under share/
    prefix = tmp_path / "prefix"
    root = Path(__file__).resolve().parents[2]
    # --ignore-installed: with --prefix alone, pip first uninstalls the copy this test runs from
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--ignore-installed", "--no-warn-script-location", "--prefix", str(prefix), str(root)], check=True,
                   capture_output=True, timeout=300)
    entry = prefix / "share" / "applications" / "sisessions.desktop"
    icon = prefix / "share" / "icons" / "hicolor" / "256x256" / "apps" / "sisessions.png"
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(entry)
    d = ini["Desktop Entry"]
    assert d["Type"] == "Application" and d["Icon"] == "sisessions" and d["Exec"].startswith("sisessions ")
    png = icon.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(png[16:20], "big") == int.from_bytes(png[20:24], "big") == 256


def test_volume_reads_writes_and_is_the_output_gain(pulse, warm, bus):
    ref = rendered("reach")
    with Recorder(pulse) as rec:
        p = Play("--from", "reach")
        wait_listed()
        assert float(playerctl("volume")) == 1.0
        subprocess.run(["playerctl", "-p", "sisessions", "volume", "0.5"], env=child_env(), check=True, timeout=10)
        changed = time.monotonic()
        assert float(playerctl("volume")) == pytest.approx(0.5)
        assert busctl_get("org.mpris.MediaPlayer2.Player", "Volume") == "d 0.5"
        rc, _, err = p.finish()
    assert rc == 0, err
    # what was heard from 0.3 s after the change on, against the session as rendered: the
    # loudness of the voice (90th percentile of 20 ms windows that hold speech), halved. Not
    # aligned sample by sample, so an underrun on a busy machine cannot fake or hide it.
    heard = envelope(rec.samples[rec.sample_at(changed + 0.3):])
    said = envelope(ref)
    ratio = np.percentile(heard[heard > 150], 90) / np.percentile(said[said > 300], 90)
    print(f"volume 0.5: heard/rendered voice level {ratio:.3f}")
    assert ratio == pytest.approx(0.5, abs=0.1)
