"""SIGTERM and SIGHUP stop as Ctrl-C does, by one path (sisessions/signals.py): a command, a play
inside it, and a scheduled run passing the stop on to the session it started."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from sisessions import signals
from tests.conftest import FIXTURES, run_cli

LIB = FIXTURES / "lib"


def test_a_stop_raises_once_and_a_block_inside_another_changes_nothing():
    before = signal.getsignal(signal.SIGTERM)
    with signals.stop_on_signals():
        outer = signal.getsignal(signal.SIGTERM)
        assert outer is not before
        with signals.stop_on_signals():  # a play inside a command
            assert signal.getsignal(signal.SIGTERM) is outer
        assert signal.getsignal(signal.SIGTERM) is outer
        with pytest.raises(signals.Terminated) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises as soon as the signal arrives
        assert stopped.value.args == (signal.SIGTERM,) and isinstance(stopped.value, KeyboardInterrupt)
        os.kill(os.getpid(), signal.SIGHUP)  # later ones are ignored: the clean-up runs whole
        time.sleep(0.1)
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["sigterm", "sighup"])
def test_a_scheduled_export_stopped_from_outside_ends_cleanly(tmp_path, sig):
    """cron's `kill` or systemd's stop reaches the runner: it tells the export, which removes its
    half-written file and says so, instead of being killed mid-write (SIGKILL leaves the .part
    for a sync tool to copy to the phone)."""
    run_cli("--scripts", LIB, "synth", "long", check=0)  # warm: the export itself is stopped
    phone = tmp_path / "phone"
    env = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
    runner = subprocess.Popen([sys.executable, "-m", "sisessions", "schedule", "run", "abc123", "--", "--scripts",
                               str(LIB), "export", "long", "--to", str(phone), "--bitrate", "320"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    end = time.time() + 60
    while not [p for p in phone.glob(".*.part") if p.stat().st_size > 0]:
        assert runner.poll() is None and time.time() < end, runner.communicate()
        time.sleep(0.02)
    runner.send_signal(sig)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 1
    assert err.strip().splitlines() == ["sisessions: Stopped.", "sisessions: Stopped."]  # the export's, the runner's
    assert re.search(r"^--- \S+ stopped: stopped from outside after 0:\d\d \(the run ended with exit 1\)$", out, re.M)
    assert not list(phone.glob(".*.part")) and not list(phone.glob("*.mp3"))
