"""Scheduled entries as cron runs them (cron's bare environment, a throwaway user's crontab): the
run and its log, the lock against an overlapping run, the speech made ahead, and a play entry
heard on a private PulseAudio server."""
from __future__ import annotations

import datetime
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sisessions.schedule import lock, runner, spec
from tests.conftest import run_cli
from tests.schedule.helpers import LIB, add, added_id, command_of, ours, run_like_cron, sh, table


# ---------------------------------------------------------------- it really runs from cron


def test_the_entry_runs_with_crons_bare_environment(user, tmp_path, isolated):
    # cron turns a bare % into a line break: it must be escaped; " #" is no comment inside quotes
    phone = tmp_path / "my 50% #1 phone"
    p = add("--at", "06:30", "--days", "mon-fri", "first", "--to", phone, "--keep", "3")
    sid = added_id(p)
    line = ours(table(user))[sid]
    assert line.startswith("30 6 * * 1-5 ")
    assert "XDG_RUNTIME_DIR" not in line  # an export needs no audio session

    run = run_like_cron(line, isolated, user)
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert run.stdout == run.stderr == ""  # everything went to the log

    log = spec.log_path(sid).read_text()
    assert re.search(r"^--- \S+ start: sisessions .* export first --to ", log, re.M)
    assert re.search(r"^--- \S+ ok: exit 0 after 0:\d\d$", log, re.M)
    mp3 = phone / f"{datetime.date.today().isoformat()}-first.mp3"
    assert f"Wrote {mp3}" in log
    seconds = float(sh("/usr/bin/ffprobe", "-v", "error", "-show_entries", "format=duration",
                        "-of", "csv=p=0", str(mp3)).stdout)
    assert 3 < seconds < 30

    listing = run_cli("schedule", "list", check=0).stdout
    row = next(ln for ln in listing.splitlines() if ln.startswith(sid))
    assert re.search(rf"{sid}  06:30  mon-fri\s+export first --to '\S+/my 50% #1 phone' --keep 3\s+last run: \S+ \S+ ok", row)


def test_a_failed_run_is_logged_with_its_reason(user, tmp_path, isolated):
    sid = added_id(add("--at", "06:30", "first", "--to", tmp_path / "phone"))
    (tmp_path / "phone").write_text("not a folder")  # root ignores modes, so break it this way
    run = run_like_cron(ours(table(user))[sid], isolated, user)
    assert run.returncode == 2
    last = run_cli("schedule", "list", check=0).stdout
    assert "failed (exit 2" in last and "that is a file, not a folder" in last


def test_a_play_entry_carries_the_audio_session_and_says_what_it_needs(user):
    p = add("--at", "07:15", "first", "--play")
    uid = pwd.getpwnam(user).pw_uid
    line = ours(table(user))[added_id(p)]
    assert f"XDG_RUNTIME_DIR=/run/user/{uid} " in line
    assert f"DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/{uid}/bus " in line
    assert f"loginctl enable-linger {user}" in p.stdout
    assert " play first " in line and line.startswith("15 7 * * * ")


def test_the_lock_stops_an_overlapping_run(user, tmp_path, isolated):
    """While one run holds the lock (still playing), the next does nothing and says why."""
    play = added_id(add("--at", "07:00", "first", "--play"))
    export = added_id(add("--at", "07:00", "second", "--to", tmp_path / "phone"))
    lines = ours(table(user))
    with lock.hold(spec.lock_path("play", play)):
        run = run_like_cron(lines[play], isolated, user)
        assert run.returncode == 0
        log = spec.log_path(play).read_text()
        assert re.search(rf"skipped: the previous run \(pid {os.getpid()}, since \S+\) is still playing, "
                         "so this one did nothing$", log, re.M)
        assert not re.search(r"^--- \S+ (ok|failed):", log, re.M)  # nothing was started
    with lock.hold(spec.lock_path("export", export)):
        run_like_cron(lines[export], isolated, user)
        assert not (tmp_path / "phone").exists()
        assert "skipped" in run_cli("schedule", "list", check=0).stdout
    run = run_like_cron(lines[export], isolated, user)  # the lock is free again
    assert run.returncode == 0 and list((tmp_path / "phone").glob("*-second.mp3"))


def test_lock_is_exclusive_and_released_by_a_killed_holder(tmp_path):
    path = tmp_path / "play.lock"
    with lock.hold(path):
        with pytest.raises(lock.Busy, match=rf"pid {os.getpid()}"):
            with lock.hold(path):
                pass
    code = f"from sisessions.schedule import lock\nwith lock.hold({str(path)!r}):\n    print('held', flush=True)\n    input()"
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(lock.Busy, match=rf"pid {holder.pid}, since "):
            with lock.hold(path):
                pass
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs in the holder
        holder.wait()
    with lock.hold(path):  # the kernel released it with the killed process
        pass


# ---------------------------------------------------------------- ready before it is needed


# A fresh cache must be filled from nothing: espeak, the quick engine, keeps these fast.
def test_add_synthesizes_ahead(user, tmp_path, fresh_cache):
    p = add("--at", "07:00", "first", "--to", tmp_path / "phone", "--engine", "espeak")
    assert "Ready: first" in p.stdout
    synth = run_cli("--scripts", LIB, "synth", "first", "--engine", "espeak", check=0)
    assert synth.stdout.startswith("0 new clips made")
    assert str(fresh_cache.resolve()) in ours(table(user))[added_id(p)]  # the run reads this cache


def test_today_makes_every_session_ahead_that_it_can_lead_to(user, fresh_cache):
    run_cli("--scripts", LIB, "today", "--program", "steps", check=0)
    p = add("--at", "07:00", "today", "--play", "--side", "right", "--engine", "espeak")
    ready = [ln.split()[1] for ln in p.stdout.splitlines() if ln.startswith("Ready:")]
    assert ready == ["first", "second", "after"]
    for s in ("first", "second", "after"):
        out = run_cli("--scripts", LIB, "synth", s, "--side", "right", "--engine", "espeak", check=0).stdout
        assert out.startswith("0 new clips made"), (s, out)
    assert " play today --side right --engine espeak " in ours(table(user))[added_id(p)]


# ---------------------------------------------------------------- a play entry from cron


def test_a_play_entry_plays_from_cron_and_an_overlapping_run_stays_silent(user, tmp_path, isolated):
    """The whole way: a --play entry run with cron's bare environment reaches the user's sound
    server through the XDG_RUNTIME_DIR it carries, plays, logs; a second run meanwhile does not."""
    from tests.audio_server import PulseServer, Recorder, loud

    uid = pwd.getpwnam(user).pw_uid
    runtime = Path(f"/run/user/{uid}")  # where the entry says the user's session lives
    server = PulseServer(tmp_path / "pulse").start()
    try:
        (runtime / "pulse").mkdir(parents=True)
        (runtime / "pulse" / "native").symlink_to(server.socket)
        sid = added_id(add("--at", "07:00", "first", "--play", "--engine", "espeak", "--rate", "200"))
        line = ours(table(user))[sid]
        with Recorder(server) as rec:
            env = {"HOME": str(isolated), "LOGNAME": user, "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin"}
            first = subprocess.Popen(["/bin/sh", "-c", command_of(line)], env=env, cwd=isolated,
                                     stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until the first run holds the lock
                try:
                    with lock.hold(spec.lock_path("play", sid)):
                        pass
                    time.sleep(0.05)
                except lock.Busy:
                    break
            second = run_like_cron(line, isolated, user)
            assert second.returncode == 0
            assert first.wait(60) == 0
        log = spec.log_path(sid).read_text()
        assert re.search(r"skipped: the previous run \(pid \d+, since \S+\) is still playing", log)
        assert re.search(r"^--- \S+ ok: exit 0 after 0:\d\d$", log, re.M)
        assert loud(rec.samples).sum() > 0.5 * 22050  # more than half a second of speech was heard
        records = [json.loads(ln) for ln in (isolated / "data" / "sisessions" / "practice.jsonl").read_text().splitlines()]
        assert [(r["session"], r["completed"]) for r in records] == [("first", True)]  # one play, not two
    finally:
        server.stop()
        shutil.rmtree(runtime, ignore_errors=True)


def test_a_long_log_is_trimmed_to_its_newer_half_from_a_line(tmp_path):
    log = tmp_path / "x.log"
    lines = [f"2026-01-{i % 28 + 1:02d} 07:30 ok run {i}\n" for i in range(40000)]
    log.write_text("".join(lines))
    runner.trim_log(log, limit=100_000)
    text = log.read_text()
    assert 40_000 < len(text) <= 50_000
    assert text.endswith(lines[-1]) and text.splitlines()[0] + "\n" in lines  # whole lines only
    small = tmp_path / "small.log"
    small.write_text("one\n")
    runner.trim_log(small, limit=100_000)
    assert small.read_text() == "one\n"
