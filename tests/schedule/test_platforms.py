"""What a schedule says and where it runs: `schedule list`, systemd user timers, platforms
without cron, a calendar reminder (`--ics`) instead of a crontab line, and the days an entry
names as cron runs them."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from sisessions.errors import SisessionsError, UsageError
from sisessions.schedule import calendar, spec
from tests.conftest import FIXTURES, run_cli
from tests.schedule.helpers import FOREIGN, add, added_id, install, table

LIBS = ("--scripts", FIXTURES / "phone", "--scripts", FIXTURES / "morning")  # sessions a reminder can name


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


# ---------------------------------------------------------------- a reminder instead of a crontab line


def test_schedule_add_ics_is_a_recurring_event_with_an_alarm_and_no_crontab_line(user, tmp_path, isolated):
    import icalendar

    install(user, FOREIGN)
    state = isolated / "state" / "sisessions"
    state.mkdir(parents=True)
    (state / "companion-address").write_text("https://10.77.0.1:8765/\n")  # as the companion leaves it
    f = tmp_path / "remind.ics"
    p = run_cli(*LIBS, "schedule", "add", "--at", "07:30", "--days", "mon-fri", "short", "--ics", f, check=0)
    assert "Wrote" in p.stdout and "crontab" in p.stdout
    assert table(user) == FOREIGN
    cal = icalendar.Calendar.from_ical(f.read_bytes())
    (ev,) = cal.walk("VEVENT")
    start = ev.decoded("dtstart")
    assert (start.hour, start.minute) == (7, 30) and start.isoweekday() <= 5
    rule = ev["rrule"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["BYDAY"] == ["MO", "TU", "WE", "TH", "FR"]
    (alarm,) = ev.walk("VALARM")
    assert alarm["action"] == "DISPLAY" and alarm.decoded("trigger") == dt.timedelta(0)
    assert "Short Practice" in str(ev["summary"]) and str(ev["url"]) == "https://10.77.0.1:8765/"
    daily = tmp_path / "daily.ics"
    run_cli(*LIBS, "schedule", "add", "--at", "21:05", "today", "--ics", daily, check=0)
    (ev,) = icalendar.Calendar.from_ical(daily.read_bytes()).walk("VEVENT")
    assert ev["rrule"]["FREQ"] == ["DAILY"] and ev.decoded("dtstart").strftime("%H:%M") == "21:05"
    mine = tmp_path / "mine.ics"
    mine.write_text("my own calendar\n")
    p = run_cli(*LIBS, "schedule", "add", "--at", "07:30", "short", "--ics", mine, check=2)
    assert "left as it is" in p.stderr and mine.read_text() == "my own calendar\n"
    run_cli(*LIBS, "schedule", "add", "--at", "7:75", "short", "--ics", tmp_path / "x.ics", check=2)
    assert table(user) == FOREIGN
