"""Schedules against the real `crontab` command, on the crontab of a throwaway user only."""
from __future__ import annotations

import datetime
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sisessions.errors import SisessionsError, UsageError
from sisessions.schedule import calendar, cron, lock, runner, spec
from tests.conftest import FIXTURES, run_cli

LIB = FIXTURES / "morning"

# Every kind of line a person may keep in a crontab, written the way people write them:
# odd spacing, tabs, trailing blanks, quoted variables, `%`, a `#` inside a command,
# a commented-out job, a job of their own that runs sisessions, and a blank line at the end.
FOREIGN = (
    "# m h  dom mon dow   command\n"
    "MAILTO=\"\"\n"
    "FOO = \"bar baz\"  \n"
    "\n"
    "*/5  *\t* * *   /usr/bin/true # keep me\n"
    "  # an indented comment\t\n"
    "@reboot echo hi%there\n"
    "0 3 * * 0 echo \"a # b\" > /dev/null\n"
    "#30 6 * * * /usr/bin/false\n"
    "15 8 * * * /usr/local/bin/sisessions export towel -o /tmp/x.mp3 # my own, not tagged\n"
    "\u00e9t\u00e9=\u00f1\n"
    "\t\n"
)


def _root_with_cron() -> bool:
    return os.geteuid() == 0 and bool(shutil.which("crontab")) and bool(shutil.which("useradd"))




def _sh(*args, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=check)


@pytest.fixture(scope="session")
def cron_user():
    """A throwaway user of this test run, so that no real crontab is ever touched."""
    if not _root_with_cron():  # only the tests that touch a crontab need it (CI runs as root)
        pytest.skip("needs root, crontab and useradd")
    for _ in range(50):  # useradd fails while another worker holds /etc/passwd's lock
        # a random part too: a pid is reused, and a run killed before its cleanup leaves its user
        name = f"sis-test-{os.getpid()}-{secrets.token_hex(3)}"
        p = _sh("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name, check=False)
        if p.returncode == 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"useradd {name}: {p.stderr}")
    yield name
    _sh("crontab", "-u", name, "-r", check=False)
    _sh("userdel", name, check=False)


@pytest.fixture
def user(cron_user, monkeypatch):
    _sh("crontab", "-u", cron_user, "-r", check=False)
    monkeypatch.setenv(cron.USER_ENV, cron_user)
    return cron_user


def table(user: str) -> str:
    p = _sh("crontab", "-u", user, "-l", check=False)
    return p.stdout if p.returncode == 0 else ""


def install(user: str, text: str) -> None:
    subprocess.run(["crontab", "-u", user, "-"], input=text, text=True, check=True)


def ours(text: str) -> dict[str, str]:
    return {m.group(1): line for line in text.splitlines() if (m := re.search(r"# sisessions:(\w+)$", line))}


def add(*args, check=0):
    return run_cli("--scripts", LIB, "schedule", "add", *args, check=check)


def added_id(proc) -> str:
    return re.search(r"(?:Scheduled|Updated|unchanged:) (\w{6}):", proc.stdout).group(1)


def command_of(line: str) -> str:
    """The command cron runs for a line, made as cron's do_command.c makes it: the text after the
    five time fields, where \\% is a literal % and any other backslash stays as it is."""
    out: list[str] = []
    escaped = False
    for ch in line.split(None, 5)[5]:
        if escaped:
            if ch == "%":
                out[-1] = "%"
            else:
                out.append(ch)
            escaped = False
            continue
        assert ch != "%", "a bare % ends cron's command: the rest would become its stdin"
        escaped = ch == "\\"
        out.append(ch)
    return "".join(out)


def run_like_cron(line: str, home: Path, user: str) -> subprocess.CompletedProcess:
    """Run an entry's command as cron does: /bin/sh -c with cron's few variables, from $HOME."""
    env = {"HOME": str(home), "LOGNAME": user, "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin"}
    return subprocess.run(["/bin/sh", "-c", command_of(line)], env=env, cwd=home, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


# ---------------------------------------------------------------- never lose a line


def test_add_and_remove_keep_every_foreign_byte(user, tmp_path):
    install(user, FOREIGN)
    a = added_id(add("--at", "06:30", "--days", "mon-fri", "first", "--to", tmp_path / "phone"))
    after_a = table(user)
    assert after_a.startswith(FOREIGN) and list(ours(after_a)) == [a]
    b = added_id(add("--at", "07:00", "second", "--play", "--side", "left"))
    after_b = table(user)
    assert after_b.startswith(after_a) and list(ours(after_b)) == [a, b]
    assert after_b.count("\n") == FOREIGN.count("\n") + 2

    run_cli("schedule", "remove", a, check=0)
    assert table(user) == FOREIGN + ours(after_b)[b] + "\n"
    out = run_cli("schedule", "remove", "--all", check=0).stdout
    assert f"Removed {b}" in out
    assert table(user).encode() == FOREIGN.encode()  # byte for byte, the user's own sisessions job too


def test_removing_an_entry_between_foreign_lines(user, tmp_path):
    """A person may move our line around or add jobs after it: only our line goes."""
    install(user, FOREIGN)
    sid = added_id(add("--at", "6:30", "first", "--to", tmp_path / "phone"))
    more = "# added later by hand\n0 12 * * * /usr/bin/true\n"
    install(user, table(user) + more)
    run_cli("schedule", "remove", sid, check=0)
    assert table(user) == FOREIGN + more


def test_an_empty_crontab_is_removed_again(user, tmp_path):
    sid = added_id(add("--at", "06:30", "first", "--to", tmp_path / "phone"))
    assert list(ours(table(user))) == [sid]
    run_cli("schedule", "remove", sid, check=0)
    p = _sh("crontab", "-u", user, "-l", check=False)
    assert p.returncode == 1 and "no crontab" in p.stderr


def test_the_same_schedule_twice_is_one_entry(user, tmp_path):
    install(user, FOREIGN)
    first = add("--at", "07:00", "--days", "sat,sun", "second", "--play", "--side", "left")
    again = add("--at", "7:00", "--days", "weekends", "second", "--side", "left")  # --play is the default
    assert "Already scheduled, unchanged" in again.stdout
    assert added_id(first) == added_id(again)
    assert len(ours(table(user))) == 1

    slower = add("--at", "07:00", "--days", "sat-sun", "second", "--side", "left", "--pace", "1.5")
    assert "Updated" in slower.stdout
    lines = ours(table(user))
    assert list(lines) == [added_id(first)] and "--pace 1.5" in lines[added_id(first)]
    assert table(user).startswith(FOREIGN)


@pytest.mark.parametrize("args, message", [
    (("--at", "25:00", "first"), "--at 25:00: expected a time of day like 07:30"),
    (("--at", "7", "first"), "--at 7: expected a time of day"),
    (("--at", "07:60", "first"), "--at 07:60"),
    (("--at", "seven", "first"), "--at seven"),
    (("--at", "07:00", "--days", "mon-fry", "first"), "--days mon-fry: expected day names"),
    (("--at", "07:00", "--days", "8", "first"), "--days 8"),
    (("--at", "07:00", "nosuch"), "unknown session 'nosuch'"),
    (("--at", "07:00", "first", "--play", "--to", "/tmp"), "either --play or --to"),
    (("--at", "07:00", "first", "--keep", "3"), "--keep needs --to"),
])
def test_bad_input_is_exit_2_and_touches_nothing(user, args, message):
    install(user, FOREIGN)
    p = add(*args, check=2)
    assert message.lower() in p.stderr.lower() and len(p.stderr.strip().splitlines()) == 1
    assert "Traceback" not in p.stderr
    assert table(user) == FOREIGN


def test_a_session_that_needs_a_side_is_refused_before_writing(user):
    p = add("--at", "07:00", "after", "--play", check=2)
    assert "working side" in p.stderr
    assert table(user) == ""


def test_dry_run_prints_the_line_and_writes_nothing(user, tmp_path):
    install(user, FOREIGN)
    p = add("--at", "06:45", "--days", "mon,wed,fri", "first", "--to", tmp_path / "phone", "--dry-run")
    assert "nothing written" in p.stdout
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("45 6 * * 1,3,5 "))
    assert line.endswith(f"# sisessions:{added_id_dry(p)}")
    assert table(user) == FOREIGN


def test_a_scheduled_run_keeps_the_bed_it_was_added_with(user, tmp_path):
    """`--bed` and `--bed-level` reach the entry, so the morning run plays with the same bed."""
    p = add("--at", "06:45", "first", "--to", tmp_path / "phone", "--bed", "brown", "--bed-level", "-48",
            "--dry-run")
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("45 6 * * * "))
    assert "--bed brown --bed-level -48" in command_of(line)


def added_id_dry(p) -> str:
    return re.search(r"Would schedule \(nothing written\): (\w{6}):", p.stdout).group(1)


def test_remove_an_unknown_id_is_exit_2(user):
    install(user, FOREIGN)
    p = run_cli("schedule", "remove", "abcdef", check=2)
    assert "no schedule with the id abcdef" in p.stderr.lower()
    assert table(user) == FOREIGN


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
    seconds = float(_sh("/usr/bin/ffprobe", "-v", "error", "-show_entries", "format=duration",
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


# ---------------------------------------------------------------- list, systemd, platforms


def test_list_shows_id_time_days_what_and_last_run(user, tmp_path):
    assert "No schedules yet" in run_cli("schedule", "list", check=0).stdout
    a = added_id(add("--at", "06:30", "--days", "mon-fri", "first", "--to", tmp_path / "p"))
    b = added_id(add("--at", "21:05", "--days", "fri-mon", "second", "--play", "--pace", "2"))
    rows = run_cli("schedule", "list", check=0).stdout.splitlines()
    assert re.match(rf"{a}  06:30  mon-fri\s+export first --to \S+/p\s+last run: not run yet$", rows[0])
    assert re.match(rf"{b}  21:05  mon,fri-sun\s+play second --pace 2\s+last run: not run yet$", rows[1])


def test_systemd_user_timer_files(user, isolated, tmp_path):
    install(user, FOREIGN)
    p = add("--at", "06:30", "--days", "mon-fri", "first", "--to", tmp_path / "50% phone", "--systemd")
    sid = added_id(p)
    folder = isolated / "config" / "systemd" / "user"
    timer = (folder / f"sisessions-{sid}.timer").read_text()
    service = (folder / f"sisessions-{sid}.service").read_text()
    assert "\n[Timer]\nOnCalendar=Mon..Fri *-*-* 06:30:00\nPersistent=true\n" in timer
    assert "\n[Install]\nWantedBy=timers.target\n" in timer
    assert "\nType=oneshot\n" in service
    exec_start = next(ln for ln in service.splitlines() if ln.startswith("ExecStart="))
    assert f" schedule run {sid} -- " in exec_start
    assert '"' + str(tmp_path / "50%% phone") + '"' in exec_start  # % is a systemd specifier
    log = str(spec.log_path(sid))
    assert f"StandardOutput=append:{log}\nStandardError=append:{log}\n" in service
    assert f"systemctl --user enable --now sisessions-{sid}.timer" in p.stdout
    assert table(user) == FOREIGN  # the crontab is not touched

    assert "unchanged" in add("--at", "06:30", "--days", "mon-fri", "first", "--to",
                              tmp_path / "50% phone", "--systemd").stdout
    row = next(ln for ln in run_cli("schedule", "list", check=0).stdout.splitlines() if ln.startswith(sid))
    assert "06:30  mon-fri" in row and row.endswith("(systemd)")

    wants = folder / "timers.target.wants"
    wants.mkdir()
    (wants / f"sisessions-{sid}.timer").symlink_to(folder / f"sisessions-{sid}.timer")  # as `enable` does
    Path(log).write_text("--- 2026-01-05T06:30:00+00:00 ok: exit 0 after 0:12\n")  # as systemd appends it
    run_cli("schedule", "remove", sid, check=0)
    assert not list(folder.rglob("sisessions-*")) and not Path(log).exists()


def test_systemd_play_needs_no_cron_environment(user, isolated):
    p = add("--at", "07:00", "first", "--play", "--systemd", "--dry-run")
    assert "XDG_RUNTIME_DIR" not in p.stdout and "OnCalendar=*-*-* 07:00:00" in p.stdout
    assert "Persistent=true" not in p.stdout and "never played later by surprise" in p.stdout
    assert not (isolated / "config" / "systemd").exists()


@pytest.mark.parametrize("platform, words", [
    ("win32", ("cron does not exist on Windows", "Task Scheduler", "schtasks /Create")),
    ("darwin", ("launchd", "LaunchAgent")),
])
def test_where_cron_is_not_the_way_it_says_what_to_do(platform, words):
    with pytest.raises(SisessionsError) as e:
        spec.check_platform(False, platform)
    assert all(w in str(e.value) for w in words) and "\n" not in str(e.value)
    spec.check_platform(False, "linux")


@pytest.mark.parametrize("text, days, shown, field", [
    ("mon-fri", {1, 2, 3, 4, 5}, "mon-fri", "1-5"),
    ("weekdays", {1, 2, 3, 4, 5}, "mon-fri", "1-5"),
    ("sat,sun", {0, 6}, "sat-sun", "6-7"),
    ("fri-mon", {5, 6, 0, 1}, "mon,fri-sun", "1,5-7"),
    ("Monday,Wed,friday", {1, 3, 5}, "mon,wed,fri", "1,3,5"),
    ("daily", set(range(7)), "daily", "*"),
    ("0", {0}, "sun", "0"),
    ("1-5", {1, 2, 3, 4, 5}, "mon-fri", "1-5"),
    # cron's numbers mean what cron makes of them: 0 and 7 are Sunday, ranges may end at 7
    ("0-7", set(range(7)), "daily", "*"),
    ("1-7", set(range(7)), "daily", "*"),
    ("7", {0}, "sun", "0"),
    ("0,7", {0}, "sun", "0"),
    ("5-7", {5, 6, 0}, "fri-sun", "5-7"),
    ("6,0", {6, 0}, "sat-sun", "6-7"),
    ("*/2", {0, 2, 4, 6}, "tue,thu,sat-sun", "2,4,6-7"),
    ("1-5/2", {1, 3, 5}, "mon,wed,fri", "1,3,5"),
    ("fri-7", {5, 6, 0}, "fri-sun", "5-7"),
])
def test_days(text, days, shown, field):
    parsed = calendar.parse_days(text)
    assert parsed == days and calendar.days_text(parsed) == shown
    assert calendar.cron_days(parsed) == field
    assert calendar.parse_days(field) == days  # `list` reads the entry back


@pytest.mark.parametrize("text", ["mon-fry", "8", "mo", "mon-tue-wed", "x,mon", "mon,",
                                  "5-1", "0-8", "*/0", "mon-fri/2", "3/2", "1-5/x"])
def test_bad_days(text):
    with pytest.raises(UsageError):
        calendar.parse_days(text)


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


@pytest.mark.parametrize("days, when, field", [
    ("0-7", "every day", "*"),
    ("1-7", "every day", "*"),
    ("5-7", "on fri-sun", "5-7"),
    ("7", "on sun", "0"),
    ("0,3", "on wed,sun", "3,0"),
])
def test_cron_day_numbers_are_described_as_cron_runs_them(user, tmp_path, days, when, field):
    p = add("--at", "07:00", "--days", days, "first", "--to", tmp_path / "phone", "--dry-run")
    assert f": export first --to {tmp_path / 'phone'} at 07:00 {when}." in p.stdout
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("0 7 * * "))
    assert line.split()[4] == field


# ---------------------------------------------------------------- a crontab sisessions cannot rewrite


def test_a_crontab_with_a_line_cron_refuses_is_listed_and_never_half_written(user, tmp_path):
    """`MAILTO=` (empty) is accepted by some crons; Debian's `crontab -` refuses to install it.
    Found in the table, it is kept as it is: `list` works, and a write that `crontab` refuses
    leaves the whole table exactly as it was and says so in one sentence."""
    sid = added_id(add("--at", "06:30", "first", "--to", tmp_path / "phone"))
    odd = "MAILTO=\n" + FOREIGN + table(user)
    spool = Path("/var/spool/cron/crontabs") / user  # as another cron's `crontab` installed it
    if not spool.parent.is_dir():
        pytest.skip("needs Debian's cron spool folder, /var/spool/cron/crontabs")
    spool.write_text(odd)
    assert table(user) == odd

    listing = run_cli("schedule", "list", check=0).stdout
    assert re.match(rf"{sid}  06:30  daily\s+export first --to \S+/phone\s+last run: not run yet$", listing)
    assert add("--at", "07:00", "second", "--play", "--dry-run").returncode == 0

    for p in (add("--at", "07:00", "second", "--to", tmp_path / "phone", check=1),
              run_cli("schedule", "remove", sid, check=1)):
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
        assert "the crontab could not be written" in p.stderr.lower() and "stays exactly as it was" in p.stderr
        assert spool.read_text() == odd


def test_a_folder_that_cannot_be_one_crontab_line_is_refused(user, tmp_path):
    install(user, FOREIGN)
    for name in ("line\nbreak", "back\\%slash"):
        p = add("--at", "07:00", "first", "--to", tmp_path / name, check=2)
        assert "cannot be written as one crontab line" in p.stderr
    assert table(user) == FOREIGN


# ---------------------------------------------------------------- remove: all or nothing, and its log


def test_remove_checks_every_id_before_removing_any(user, tmp_path, isolated):
    install(user, FOREIGN)
    good = added_id(add("--at", "06:30", "first", "--to", tmp_path / "phone"))
    assert run_like_cron(ours(table(user))[good], isolated, user).returncode == 0
    log = spec.log_path(good)
    assert "ok: exit 0" in log.read_text()
    before = table(user)

    p = run_cli("schedule", "remove", good, "abcdef", check=2)
    assert "no schedule with the id abcdef, so nothing was removed" in p.stderr.lower() and good not in p.stderr
    assert table(user) == before and log.is_file()

    assert f"Removed {good} from the crontab." in run_cli("schedule", "remove", good, check=0).stdout
    assert table(user) == FOREIGN and not log.exists()


def test_remove_takes_only_the_log_its_own_entry_wrote(user, tmp_path, isolated):
    """The log named in the entry goes; a file of the same name in another state folder stays."""
    sid = added_id(add("--at", "06:30", "first", "--to", tmp_path / "phone"))
    run_like_cron(ours(table(user))[sid], isolated, user)
    log = spec.log_path(sid)
    assert log.is_file()
    elsewhere = tmp_path / "other-state"
    theirs = elsewhere / "sisessions" / "schedules" / f"{sid}.log"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("not written by this schedule\n")
    run_cli("schedule", "remove", sid, env={"XDG_STATE_HOME": str(elsewhere)}, check=0)
    assert not log.exists() and theirs.read_text() == "not written by this schedule\n"


# ---------------------------------------------------------------- numbers an entry must never hold


@pytest.mark.parametrize("option", [("--pace", "nan"), ("--pace", "inf"), ("--minutes", "nan"),
                                    ("--minutes", "inf"), ("--pace", "-inf")])
def test_nan_and_infinity_never_reach_an_entry(user, tmp_path, option):
    install(user, FOREIGN)
    for dry in (("--dry-run",), ()):
        p = add("--at", "07:00", "first", "--to", tmp_path / "phone", *option, *dry, check=2)
        assert option[0] in p.stderr.strip().splitlines()[-1]  # click's usage lines come first
        assert "Would schedule" not in p.stdout and "Traceback" not in p.stderr
    assert table(user) == FOREIGN
