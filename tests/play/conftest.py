"""The play stage's fixtures: a private PulseAudio server for `play` to play into, and a room
with a microphone in it for `play --listen`."""
from __future__ import annotations

import subprocess

import pytest

from tests.audio_server import PulseServer
from tests.play.helpers import ROOM, rendered


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
