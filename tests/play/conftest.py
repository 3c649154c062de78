"""The play stage's fixtures: a private PulseAudio server for `play` to play into, and a room
with a microphone in it for `play --listen`."""
from __future__ import annotations

import subprocess

import pytest

from sisessions import app
from tests.audio_server import PulseServer
from tests.play.helpers import CHOICES, ROOM, SCRIPTS, rendered

CONTROL_LATENCY = 0.15   # what the `play` fixture's controller takes the output to hold, in seconds


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


@pytest.fixture
def warm():
    """Every clip of the fixture in the test run's shared cache (made once, then found)."""
    rendered()


# ---------------------------------------------------------------- the room


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    s = PulseServer(tmp_path_factory.mktemp("pulse-listen")).start()
    keeper = None
    try:
        for args in (("module-null-sink", f"sink_name={ROOM}"),
                     ("module-loopback", "source=test.monitor", f"sink={ROOM}", "latency_msec=30")):
            r = s.pactl("load-module", *args)
            assert r.returncode == 0, r.stderr
        # a low-latency reader on the room too (a null sink alone takes audio in bursts)
        keeper = subprocess.Popen(["parec", "--latency-msec=20", "-d", f"{ROOM}.monitor", "--raw"],
                                  env=s.client_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        yield s
    finally:
        if keeper is not None:
            keeper.terminate()
            keeper.wait(5)
        s.stop()


@pytest.fixture
def mic(room, monkeypatch):
    for k, v in room.env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PULSE_SOURCE", f"{ROOM}.monitor")
    return room


# ---------------------------------------------------------------- a play without sound


@pytest.fixture(scope="module")
def voiced():
    """The short fixture session, every line voiced once (espeak: a second or two)."""
    prepared = app.prepare(app.open_library((str(SCRIPTS),)), "short", CHOICES)
    titles = {it.pattern: prepared.library.pattern(it.pattern).title for it in prepared.session.items}
    return prepared, titles


@pytest.fixture
def play(voiced):
    """make(delay=0) -> (controller, feeder, events told): a play whose every clip is loaded."""
    from sisessions.play.controls import Controller
    from sisessions.play.feeder import Feeder
    from sisessions.play.prefetch import Clips
    from sisessions.play.program import Program

    prepared, titles = voiced
    speech = app.open_speech(CHOICES)
    made = []

    def make(delay: float = 0.0):
        program = Program(prepared.events, titles, 200, delay=delay)
        clips = Clips(speech, program)
        clips.prime(0)
        for text in program.texts():
            clips._voice(text)
        clips._make_chime()
        f = Feeder(program, clips, 0)
        c = Controller(program, f, latency=CONTROL_LATENCY)
        told = []
        c.subscribe(told.append)
        made.append(c)
        return c, f, told

    yield make
    speech.close()
