"""The practice log: atomic JSON-line appends, corrupt lines skipped with their line number,
days and streaks, pain entries, and the `log` command."""
from __future__ import annotations

import datetime as dt
import json
import multiprocessing

import pytest

from sisessions.practice import log

TODAY = dt.date(2025, 3, 12)


def at(day: dt.date, hour: int = 8) -> str:
    return dt.datetime(day.year, day.month, day.day, hour, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))).isoformat()


def play(day: dt.date, completed: bool = True, minutes: float = 20.0, **kw) -> dict:
    return log.play_record(kw.get("session", "daily"), kw.get("side", "left"), 1.0, "piper", completed,
                           kw.get("stopped_in", "towel-wall-rock"), minutes, time=at(day))


def ago(n: int, today: dt.date = TODAY) -> dt.date:
    return today - dt.timedelta(days=n)


def test_records_are_one_json_line_each_in_the_data_folder(isolated):
    log.append(play(TODAY))
    log.append(log.pain_record(3, "stiff after sitting", time=at(TODAY, 9)))
    f = isolated / "data" / "sisessions" / "practice.jsonl"
    assert log.log_file() == f
    lines = f.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["kind"] for x in lines] == ["play", "pain"]
    assert json.loads(lines[0]) == {
        "kind": "play", "time": "2025-03-12T08:05:00+01:00", "session": "daily", "side": "left",
        "pace": 1.0, "engine": "piper", "completed": True, "stopped_in": None, "minutes": 20.0}
    assert json.loads(lines[1]) == {"kind": "pain", "time": "2025-03-12T09:05:00+01:00", "pain": 3,
                                    "note": "stiff after sitting", "when": "other"}
    records, warnings = log.read()
    assert warnings == [] and len(records) == 2


def test_time_is_local_with_its_offset():
    t = dt.datetime.fromisoformat(log.now())
    assert t.utcoffset() is not None
    assert abs((t - dt.datetime.now().astimezone()).total_seconds()) < 5


def test_a_corrupt_line_is_reported_with_its_number_and_the_rest_kept(isolated):
    log.append(play(ago(2)))
    f = log.log_file()
    with open(f, "a", encoding="utf-8") as fh:
        fh.write('{"kind": "play", "time": "2025-03-11T08:0')  # a torn write, no newline
    log.append(play(ago(1)))        # lands on a line of its own all the same
    with open(f, "a", encoding="utf-8") as fh:
        fh.write('["not", "a", "record"]\n{"kind": "pain", "time": "yesterday", "pain": 2}\n')
    log.append(play(TODAY))
    records, warnings = log.read()
    assert [log.record_day(r) for r in records] == [ago(2), ago(1), TODAY]
    assert [w.split(": ", 1)[0] for w in warnings] == [f"{f}:2", f"{f}:4", f"{f}:5"]
    assert "skipped" in warnings[0]
    assert log.streak(records, TODAY) == 3


def test_no_log_yet_is_no_records():
    assert log.read() == ([], [])


@pytest.mark.parametrize("days, expected", [
    ([], 0),
    ([0], 1),
    ([1], 1),                 # today's practice still to do: the streak is not broken yet
    ([2], 0),
    ([0, 1, 2, 3], 4),
    ([1, 2, 3], 3),
    ([0, 1, 3, 4], 2),        # a day missed ends the streak
    ([0, 0, 1], 2),           # two plays on one day count once
])
def test_streak_of_days_in_a_row(days, expected):
    assert log.streak([play(ago(n)) for n in days], TODAY) == expected


def test_a_day_counts_when_completed_or_long_enough():
    short_stop = play(ago(1), completed=False, minutes=2)
    real_stop = play(ago(2), completed=False, minutes=log.PRACTICE_MINUTES)
    assert log.streak([play(TODAY), short_stop], TODAY) == 1
    assert log.streak([play(TODAY), play(ago(1)), real_stop], TODAY) == 3


def test_streak_across_a_month_and_a_year_boundary():
    today = dt.date(2025, 1, 1)
    records = [play(ago(n, today)) for n in range(5)]
    assert log.streak(records, today) == 5


def test_the_day_is_the_persons_local_day():
    # 00:30 at +09:00 is still the previous day in UTC; it belongs to the day it was lived
    r = log.play_record("daily", None, 1.0, "piper", True, None, 20, time="2025-03-12T00:30:00+09:00")
    assert log.record_day(r) == dt.date(2025, 3, 12)


def test_pain_when_and_check_records_and_old_pain_records_read_as_other(isolated):
    log.append(log.pain_record(2, when="morning", time=at(ago(1), 7)))
    log.append(log.check_record("same", at(TODAY, 7)))
    log.append(log.pain_record(4, when="after", time=at(TODAY, 9)))
    with open(log.log_file(), "a", encoding="utf-8") as fh:  # a pain record an earlier version wrote
        fh.write(json.dumps({"kind": "pain", "time": at(TODAY, 10), "pain": 5, "note": None}) + "\n")
    lines = [json.loads(x) for x in log.log_file().read_text(encoding="utf-8").splitlines()]
    assert lines[1] == {"kind": "check", "time": "2025-03-12T07:05:00+01:00", "result": "same"}
    records, warnings = log.read()
    assert warnings == []
    assert [(type(r).__name__, getattr(r, "when", None)) for r in records] == [
        ("Pain", "morning"), ("Check", None), ("Pain", "after"), ("Pain", "other")]
    day = log.by_day(records)[TODAY]
    assert (day.check, day.pain_after, day.pain_morning, day.pain) == ("same", 4, None, 5)
    assert log.check_on(TODAY) == "same" and log.check_on(ago(1)) is None


@pytest.mark.parametrize("make", [
    lambda: log.check_record("up"),
    lambda: log.pain_record(3, when="evening"),
    lambda: log.pain_record(3, id=""),
    lambda: log.check_record("left", id="a\nb"),
])
def test_bad_check_when_or_id_is_a_usage_error(make):
    from sisessions.errors import UsageError

    with pytest.raises(UsageError):
        make()


@pytest.mark.parametrize("line, words", [
    ({"kind": "check", "time": "2025-03-12T07:00:00+01:00", "result": "both"}, "'result'"),
    ({"kind": "check", "time": "2025-03-12T07:00:00+01:00"}, "no 'result'"),
    ({"kind": "pain", "time": "2025-03-12T07:00:00+01:00", "pain": 3, "when": "night"}, "'when'"),
    ({"kind": "pain", "time": "2025-03-12T07:00:00+01:00", "pain": 3, "id": 7}, "'id'"),
])
def test_a_bad_check_or_when_or_id_is_reported_and_skipped(isolated, line, words):
    f = log.log_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps(line) + "\n")
    records, warnings = log.read()
    assert records == [] and len(warnings) == 1 and words in warnings[0]


def test_the_same_id_twice_writes_once(isolated):
    assert log.append_new(log.pain_record(3, when="after", id="phone-1")) is True
    assert log.append_new(log.pain_record(6, when="after", id="phone-1")) is False
    log.append(log.check_record("left", id="phone-1"))  # append too: an id is written once
    assert log.append_new(log.check_record("left", id="phone-2")) is True
    records, _ = log.read()
    assert [(type(r).__name__, r.id) for r in records] == [("Pain", "phone-1"), ("Check", "phone-2")]
    assert records[0].pain == 3


def _send_ids(start, n: int, results) -> None:
    start.wait()
    results.put(sum(log.append_new(log.pain_record(1, id=f"id-{i}")) for i in range(n)))


def test_two_processes_sending_the_same_ids_at_once_write_each_once():
    start, results = multiprocessing.Event(), multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_send_ids, args=(start, 150, results)) for _ in range(3)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
    written = sum(results.get(timeout=5) for _ in procs)
    records, warnings = log.read()
    assert warnings == [] and written == 150
    assert sorted(r.id for r in records) == sorted(f"id-{i}" for i in range(150))


def test_pain_must_be_0_to_10():
    from sisessions.errors import UsageError

    with pytest.raises(UsageError):
        log.pain_record(11)
    assert log.pain_record(0).note is None


def test_summary_shows_days_streak_and_pain_trend():
    records = [play(ago(2)), play(ago(1), completed=False, minutes=12, stopped_in="washrag"),
               log.pain_record(5, time=at(ago(2), 9)), log.pain_record(3, "better", time=at(ago(1), 9))]
    lines = log.summary(records, days=3, today=TODAY)
    assert lines[0].startswith("  Wed 12 Mar  no practice")
    assert lines[1].startswith("* Tue 11 Mar  daily, left side 12 min (stopped in washrag)")
    assert lines[1].endswith('pain 3/10 "better"')
    assert lines[2].startswith("* Mon 10 Mar  daily, left side 20 min (done)")
    assert lines[3] == "Streak: 2 days in a row (today's practice still to do)."
    assert lines[4] == "Pain: 5/10 on 10 Mar, 3/10 on 11 Mar (lower)."


def test_summary_shows_after_session_and_morning_pain_apart_with_dates():
    records = [play(ago(2)), log.pain_record(6, when="after", time=at(ago(2), 9)),
               log.pain_record(3, when="morning", time=at(ago(1), 7)), log.check_record("right", at(ago(1), 7)),
               play(ago(1), side="both"), log.pain_record(4, when="after", time=at(ago(1), 9))]
    lines = log.summary(records, days=3, today=TODAY)
    assert lines[1] == "* Tue 11 Mar  daily, both sides 20 min (done)  check: right  morning pain 3/10  pain after 4/10"
    assert lines[2] == "* Mon 10 Mar  daily, left side 20 min (done)  pain after 6/10"
    assert "Pain after sessions: 6/10 on 10 Mar, 4/10 on 11 Mar (lower)." in lines
    assert not any(x.startswith("Morning pain:") or x.startswith("Pain:") for x in lines)  # one entry: no trend


def _append_many(n: int) -> None:
    for i in range(n):
        log.append(log.pain_record(i % 11, "x" * 500))


def test_appends_from_two_processes_never_interleave():
    procs = [multiprocessing.Process(target=_append_many, args=(200,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    records, warnings = log.read()
    assert warnings == [] and len(records) == 400


# ---------------------------------------------------------------- the command


def test_log_command_pain_then_summary(cli):
    cli("log", "--pain", "4", "--note", "sore after the drive", check=0)
    log.append(play(dt.date.today()))
    log.append(play(dt.date.today() - dt.timedelta(days=1)))
    out = cli("log", "--days", "3", check=0).stdout
    assert 'pain 4/10 "sore after the drive"' in out
    assert "Streak: 2 days in a row." in out
    assert out.splitlines()[0] == "Last 3 days (* practised):"


def test_log_command_reports_a_corrupt_line_and_keeps_going(cli):
    log.append(play(dt.date.today()))
    with open(log.log_file(), "a") as fh:
        fh.write("garbage\n")
    proc = cli("log", check=0)
    assert proc.stderr.strip() == (f"sisessions: {log.log_file()}:2: this line is not a readable "
                                   "record and was skipped")
    assert "Streak: 1 day in a row." in proc.stdout


@pytest.mark.parametrize("args", [["--pain", "11"], ["--pain", "-1"], ["--note", "alone"]])
def test_log_command_bad_input_is_exit_2(cli, args):
    proc = cli("log", *args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_log_command_with_nothing_logged_says_how_to_start(cli):
    assert cli("log", check=0).stdout.startswith("Nothing logged yet: every `sisessions play` adds a line")


def test_done_elsewhere_counts_for_the_streak_and_today(cli):
    """A phone user records the day's session: `today` moves on as after a play here."""
    before = cli("today", check=0).stdout
    out = cli("log", "--done", "today", check=0).stdout
    assert "done away from this computer" in out
    from sisessions.practice import log as practice

    records, warnings = practice.read()
    assert not warnings and records[-1].completed and records[-1].engine == "elsewhere"
    assert records[-1].minutes > 1
    assert "Streak: 1 day in a row." in cli("log", check=0).stdout
    after = cli("today", check=0).stdout
    assert "day 1 of" in before and "day 2 of" in after and "1 day of unlock done" in after
    assert cli("log", "--done", "no-such-session").returncode == 2


# ---------------------------------------------------------------- records with wrong types (issue 10, item 6)

BAD_RECORDS = [
    ({"minutes": "abc"}, "'minutes' is \"abc\", not a number of minutes"),
    ({"completed": "no"}, "'completed' is \"no\", not true or false"),
    ({"minutes": float("nan")}, None),  # json writes NaN, which is not a number of minutes
    ({"session": 7}, "'session' is 7, not a session id"),
    ({"side": "up"}, "'side' is \"up\", not left, right, both or null"),
    ({"pace": True}, "'pace' is true, not a positive number"),
]


@pytest.mark.parametrize("change, words", BAD_RECORDS)
def test_a_play_record_with_a_wrong_type_is_reported_and_skipped_everywhere(cli, change, words):
    """`log`, the streak and `today` all skip it with its line number; nothing counts it as done."""
    first = cli("today", check=0).stdout
    todays = first.split("Today: ")[1].split(" ")[0]
    assert "day 1 of" in first
    good = log.to_json(play(dt.date.today(), session=todays))
    bad = {**good, "completed": True, **change}
    f = log.log_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps(good) + "\n")  # well typed, the same record counts: the control
    assert "Streak: 1 day" in cli("log", check=0).stdout and "day 2 of" in cli("today", check=0).stdout
    f = log.log_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps(bad) + "\n")
    records, warnings = log.read()
    assert records == [] and len(warnings) == 1 and warnings[0].startswith(f"{f}:1: ")
    if words:
        assert words in warnings[0]
    shown = cli("log", check=0)
    assert f"{f}:1: " in shown.stderr and "Traceback" not in shown.stderr
    assert "Streak: 1" not in shown.stdout
    today_out = cli("today", check=0)
    assert f"{f}:1: " in today_out.stderr and "day 1 of" in today_out.stdout


@pytest.mark.parametrize("pain", [True, "3", 3.5, 11, None])
def test_a_pain_record_with_a_wrong_type_is_reported_and_skipped(cli, pain):
    f = log.log_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    today = dt.date.today()
    f.write_text(json.dumps({"kind": "pain", "time": at(today, 9), "pain": pain, "note": None}) + "\n"
                 + json.dumps(log.to_json(log.pain_record(4, time=at(today, 10)))) + "\n")
    records, warnings = log.read()
    assert [r.pain for r in records] == [4]
    assert len(warnings) == 1 and warnings[0].startswith(f"{f}:1: ") and "'pain'" in warnings[0]
    proc = cli("log", check=0)
    assert "pain 4/10" in proc.stdout and "Traceback" not in proc.stderr


def test_a_record_of_a_kind_from_a_newer_version_is_left_alone(cli):
    f = log.log_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps({"kind": "mood", "time": at(TODAY, 9), "mood": "calm"}) + "\n")
    log.append(play(TODAY))
    records, warnings = log.read()
    assert [r.session for r in records] == ["daily"] and warnings == []
