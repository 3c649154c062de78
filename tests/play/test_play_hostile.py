"""A play that meets a hostile machine (issue 23) through the private PulseAudio server: the
cache cleared under it, an export beside it, stdout closed. It plays to the end and logs."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sisessions.practice import log
from tests.conftest import run_cli
from tests.play.helpers import child_env

VOICE = ("--engine", "espeak", "--rate", "200")
LINES = 14  # more distinct lines than the player keeps loaded ahead (play/prefetch.AHEAD)
FROM = ("--from", "lines")  # the plays start at the pattern: the safety lines (13 s) are not the point


@pytest.fixture
def many_lines(tmp_path) -> Path:
    lib = tmp_path / "lib"
    (lib / "patterns").mkdir(parents=True)
    (lib / "sessions").mkdir()
    steps = "".join(f"  - say: Line {n}.\n  - pause: 0.3\n" for n in range(1, LINES + 1))
    (lib / "patterns" / "lines.yaml").write_text(f"title: Many Lines\nsteps:\n{steps}")
    (lib / "sessions" / "many.yaml").write_text("title: Many Lines\nchime: false\nitems:\n  - lines\n")
    return lib


def test_cache_clear_during_play_and_export_is_a_cache_miss(pulse, fresh_cache, many_lines, tmp_path):
    """`cache clear` while a session plays and another exports: each clip it took away is made
    again; the play ends done, with its record, and the export is whole."""
    run_cli("--scripts", many_lines, "synth", "many", *VOICE, check=0)
    play = subprocess.Popen([sys.executable, "-m", "sisessions", "--scripts", str(many_lines), "play", "many",
                             *VOICE, *FROM], env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = play.stdout.readline()
    while '"Line 2."' not in first:
        assert play.poll() is None, play.stderr.read()
        first = play.stdout.readline()
    out = tmp_path / "many.wav"
    export = subprocess.Popen([sys.executable, "-m", "sisessions", "--scripts", str(many_lines), "export", "many",
                               *VOICE, "-o", str(out)], env=child_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    cleared = 0
    deadline = time.monotonic() + 120
    while (play.poll() is None or export.poll() is None) and time.monotonic() < deadline:
        run_cli("cache", "clear", check=0)
        cleared += 1
        time.sleep(0.3)
    rest, err = play.communicate(timeout=60)
    assert play.returncode == 0, err
    assert "Done: Many Lines" in rest
    assert export.wait(60) == 0, export.stderr.read()
    assert out.is_file() and out.stat().st_size > 100_000
    [rec], warnings = log.read()
    assert warnings == [] and rec.completed and rec.session == "many"
    print(f"cache cleared {cleared} times while playing and exporting")


def test_play_with_stdout_closed_plays_and_logs(pulse, fresh_cache, many_lines):
    """`play >&-` (a cron line may close stdout): the session plays to its end and is logged."""
    proc = subprocess.run(["sh", "-c", 'exec "$0" "$@" >&-', sys.executable, "-m", "sisessions",
                           "--scripts", str(many_lines), "play", "many", *VOICE, *FROM],
                          env=child_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    [rec], _ = log.read()
    assert rec.completed
