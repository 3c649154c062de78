"""`today` follows the body (SPEC §8): real histories written through `log ... --date`, then
`today --json` (and `show today`) asked what today is: each light, the refer rule, the stage
gate, and the side from today's check."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

TODAY = dt.date.today()

PATTERNS = {
    "hello": "title: Hello\nsteps:\n  - say: Hello there.\n  - pause: 30\n",
    "reach": "title: Reach\nsided: true\nsteps:\n  - say: Reach with your {side} arm.\n  - pause: 30\n",
}
SESSIONS = {
    "one": "title: Stage one\nchime: false\nitems:\n  - hello\n  - reach\n  - hello\n  - hello\n  - hello\n"
           "  - hello\n  - hello\n  - hello\n  - hello\n  - hello\n  - hello\n  - hello\n  - reach\n",
    "two": "title: Stage two\nchime: false\nitems:\n  - hello\n  - reach\n",
    "soft": "title: Soft and short\nchime: false\nitems:\n  - hello\n",
    "evenly": "title: Evenly\nchime: false\nitems:\n  - pattern: reach\n    side: both\n",
}


def day(n: int) -> str:
    """The date n days ago."""
    return (TODAY - dt.timedelta(days=n)).isoformat()


class Person:
    """One person's library (a two-stage programme) and home; every entry goes through the CLI."""

    def __init__(self, root: Path, program_extra: str = ""):
        self.lib = root / "lib"
        for kind, files in (("patterns", PATTERNS), ("sessions", SESSIONS)):
            (self.lib / kind).mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                (self.lib / kind / f"{name}.yaml").write_text(text)
        (self.lib / "programs").mkdir(exist_ok=True)
        (self.lib / "programs" / "p.yaml").write_text(
            "title: Two stages\nstages:\n  - session: one\n    days: 2\n  - session: two\n    days: 2\n"
            "then: two\n" + program_extra)
        # the built-in library has its own programme: choose this one, once
        self.run("today", "--program", "p", check=0)

    def run(self, *args, check=None):
        return run_cli("--scripts", self.lib, *args, check=check)

    def log(self, *args):
        return self.run("log", *args, check=0)

    def done(self, n: int, session: str = "one"):
        self.log("--done", session, "--date", day(n))

    def pain(self, n: int, value: int, when: str):
        self.log("--pain", str(value), "--when", when, "--date", day(n))

    def today(self) -> dict:
        return json.loads(self.run("today", "--json", check=0).stdout)


@pytest.fixture
def person(tmp_path):
    return Person(tmp_path)


SPEC_FIELDS = {"session", "title", "stage", "day", "days", "side", "side_from", "light", "reason",
               "minutes", "refer"}


def test_no_pain_recorded_is_green_and_the_json_has_the_spec_fields(person):
    t = person.today()
    assert set(t) == SPEC_FIELDS
    assert (t["session"], t["title"], t["stage"], t["day"], t["days"]) == ("one", "Stage one", 1, 1, 2)
    assert t["light"] == "green" and t["refer"] is False and t["minutes"] is None
    assert t["side"] is None and t["side_from"] is None and "sisessions play check" in t["reason"]


def test_green_low_pain_after_and_a_steady_morning_go_on(person):
    for n in (4, 3, 2):
        person.pain(n, 2, "morning")
    person.done(1)
    person.pain(1, 3, "after")
    person.pain(0, 3, "morning")
    t = person.today()
    assert t["light"] == "green" and (t["session"], t["day"]) == ("one", 2)  # yesterday counted
    assert f"pain after the session on {day(1)} was 3/10" in t["reason"]
    assert f"morning pain 3/10 on {day(0)}, within 2 of its 7-day median (2/10)" in t["reason"]
    assert "programme goes on" in t["reason"]


def test_amber_settled_by_morning_repeats_and_the_day_does_not_count(person):
    person.done(2)
    person.pain(2, 5, "after")
    person.pain(1, 2, "morning")
    person.done(1)  # yesterday was amber: the same session again, not counted
    person.pain(1, 4, "after")
    person.pain(0, 3, "morning")
    t = person.today()
    assert t["light"] == "amber" and (t["session"], t["stage"], t["day"]) == ("one", 1, 2)
    assert (f"pain after the session on {day(1)} was 4/10 (above 3, at most 5), settled by the next "
            f"morning (3/10 on {day(0)})") in t["reason"]
    assert "same session again" in t["reason"] and "1 day of one done" in t["reason"]


@pytest.mark.parametrize("history, words", [
    # above 5 after the session
    ([("done", 1), ("after", 1, 6)], f"pain after the session on {day(1)} was 6/10, above 5"),
    # 4 after, and the next morning worse than the morning before
    ([("morning", 3, 4), ("morning", 2, 4), ("morning", 1, 4), ("done", 1), ("after", 1, 4), ("morning", 0, 5)],
     f"was 4/10 and not settled by the next morning (5/10 on {day(0)})"),
    # the morning 2 above its median, whatever the sessions did
    ([("morning", 3, 2), ("morning", 2, 2), ("morning", 1, 2), ("morning", 0, 4)],
     f"morning pain 4/10 on {day(0)} is 2 above its 7-day median (2/10)"),
])
def test_red_gives_the_stage_session_shorter(person, history, words):
    for step in history:
        if step[0] == "done":
            person.done(step[1])
        else:
            person.pain(step[1], step[2], step[0])
    t = person.today()
    assert t["light"] == "red" and t["session"] == "one" and words in t["reason"]
    assert t["minutes"] is not None and 5 <= t["minutes"] < 20 and "does not count" in t["reason"]
    assert t["refer"] is False
    # `show today` plays it shorter, keeping its first pattern
    shown = json.loads(person.run("show", "today", "--json", "--engine", "espeak", "--side", "left",
                                  check=0).stdout)
    full = json.loads(person.run("show", "one", "--json", "--engine", "espeak", "--side", "left",
                                 check=0).stdout)
    assert shown["duration"] < full["duration"] * 0.8
    assert next(c["pattern"] for c in shown["cues"] if c["pattern"]) == "hello"
    said = [c["text"] for c in shown["cues"] if c["kind"] == "say"]
    assert "Today is a shorter, gentler session, because of your recent pain." in said


def test_red_with_the_programmes_gentle_session(tmp_path):
    person = Person(tmp_path, "gentle: soft\n")
    person.done(1)
    person.pain(1, 7, "after")
    t = person.today()
    assert (t["light"], t["session"], t["title"], t["minutes"]) == ("red", "soft", "Soft and short", None)
    assert "the gentle session 'Soft and short'" in t["reason"]


def test_thresholds_come_from_the_programme(tmp_path):
    person = Person(tmp_path, "pain:\n  green: 5\n  amber: 7\n")
    person.done(1)
    person.pain(1, 5, "after")
    t = person.today()
    assert t["light"] == "green" and "(at most 5)" in t["reason"]


@pytest.mark.parametrize("block, line, words", [
    ("pain:\n  green: 4\n  amber: 3\n", 10, "pain: amber (3) must be at least green (4)"),
    ("pain:\n  rise: 0\n", 9, "pain: rise must be a whole number from 1 to 10"),
    ("pain:\n  colour: 3\n", 9, "unknown key 'colour' in pain"),
    ("pain:\n  refer_after: 2.5\n", 9, "pain: refer_after must be a whole number"),
    ("gentle: nope\n", 8, "unknown session 'nope'"),
])
def test_a_bad_pain_block_is_an_error_with_its_line(tmp_path, block, line, words):
    person = Person(tmp_path)
    f = person.lib / "programs" / "p.yaml"
    f.write_text(f.read_text() + block)
    proc = person.run("validate", check=2)
    assert f"{f}:{line}: {words}" in proc.stderr, proc.stderr


def test_refer_when_the_latest_pain_is_8_or_more(person):
    person.pain(0, 8, "other")
    t = person.today()
    assert t["refer"] is True
    assert t["reason"].startswith(f"Please see a doctor or physiotherapist before going on: the latest pain, "
                                  f"on {day(0)}, was 8/10.")
    text = person.run("today", check=0).stdout
    assert "Please see a doctor or physiotherapist before going on" in text
    said = [c["text"] for c in json.loads(person.run("show", "today", "--json", "--engine", "espeak", "--side",
                                                     "left", check=0).stdout)["cues"]]
    assert any(s and "please see a doctor or physiotherapist" in s for s in said)


def test_refer_after_three_red_days_in_a_row_not_two(person):
    for n in (2, 1):
        person.done(n)
        person.pain(n, 6, "after")
    t = person.today()
    assert t["light"] == "red" and t["refer"] is False
    person.done(0)
    person.pain(0, 6, "after")
    t = person.today()
    assert t["refer"] is True and f"({day(2)}, {day(1)}, {day(0)})" in t["reason"]


def test_refer_after_is_the_programmes(tmp_path):
    person = Person(tmp_path, "pain: {refer_after: 2}\n")
    for n in (1, 0):
        person.pain(n, 4, "morning")  # no baseline for the first; the second is not a rise
    person.pain(3, 1, "morning")
    person.pain(2, 1, "morning")
    t = person.today()
    assert t["light"] == "red" and t["refer"] is True


def test_a_stage_moves_on_only_after_its_days_and_a_clear_check(person):
    person.log("--check", "same", "--date", day(2))
    person.done(2)
    person.done(1)
    t = person.today()
    assert (t["session"], t["stage"]) == ("one", 1)
    assert f"the latest check, on {day(2)}, could not tell the sides apart" in t["reason"]
    person.log("--check", "left")
    t = person.today()
    assert (t["session"], t["stage"], t["day"], t["side"], t["side_from"]) == ("two", 2, 1, "left", "check")


def test_an_amber_day_holds_a_finished_stage(person):
    person.done(2)
    person.done(1)
    person.pain(1, 5, "after")
    t = person.today()
    assert (t["light"], t["session"], t["stage"]) == ("amber", "one", 1)
    assert "a stage moves on after a green day" in t["reason"]


def test_todays_check_sets_the_side_and_same_means_both(person):
    person.run("side", "set", "right", check=0)
    t = person.today()
    assert (t["side"], t["side_from"]) == ("right", "saved") and "the right side, saved today" in t["reason"]
    person.log("--check", "same")
    t = person.today()
    assert (t["side"], t["side_from"]) == ("both", "check")
    shown = json.loads(person.run("show", "today", "--json", "--engine", "espeak", check=0).stdout)
    assert shown["side"] == "both"
    reach = [c["text"] for c in shown["cues"] if c["pattern"] == "reach" and c["kind"] == "say"]
    assert reach[:2] == ["Reach with your left arm.", "Reach with your right arm."]
    person.log("--check", "left")  # a later check the same day wins
    assert (person.today()["side"], person.today()["side_from"]) == ("left", "check")
    assert person.run("today", "--json", "--side", "right", check=0).stdout.count('"side_from": "option"') == 1


def test_a_saved_side_says_how_old_it_is_and_no_side_points_at_the_check(person, isolated):
    proc = person.run("show", "today", "--engine", "espeak", check=2)
    assert "sisessions play check" in proc.stderr and "log --check" in proc.stderr
    settings = isolated / "config" / "sisessions" / "settings.json"
    settings.write_text(json.dumps({"side": "left", "side_saved": day(5), "program": "p"}))
    t = person.today()
    assert (t["side"], t["side_from"]) == ("left", "saved") and f"saved 5 days ago ({day(5)})" in t["reason"]
    said = [c["text"] for c in json.loads(person.run("show", "today", "--json", "--engine", "espeak",
                                                     check=0).stdout)["cues"]]
    assert "Today uses your left side, saved 5 days ago. A check before practice would confirm it." in said
    person.log("--check", "right", "--date", day(2))  # a clear check newer than the saved side
    t = person.today()
    assert (t["side"], t["side_from"]) == ("right", "saved") and "from your check 2 days ago" in t["reason"]


@pytest.mark.parametrize("args", [["--check", "left"], ["--pain", "3", "--when", "morning"], ["--done", "one"]])
def test_a_future_date_is_refused_and_nothing_written(person, isolated, args):
    proc = person.run("log", *args, "--date", (TODAY + dt.timedelta(days=1)).isoformat(), check=2)
    assert "is in the future" in proc.stderr and "Traceback" not in proc.stderr
    assert not (isolated / "data" / "sisessions" / "practice.jsonl").exists()


def test_log_shows_after_session_and_morning_pain_apart_with_dates(person):
    person.done(1)
    person.pain(1, 4, "after")
    person.pain(0, 2, "morning")
    person.log("--check", "same")
    out = person.run("log", "--days", "2", check=0).stdout.splitlines()
    when = lambda n: (TODAY - dt.timedelta(days=n)).strftime("%a %d %b")  # noqa: E731
    assert out[1] == f"  {when(0)}  no practice  check: same  morning pain 2/10"
    assert out[2].startswith(f"* {when(1)}  one") and out[2].endswith("pain after 4/10")


def test_a_scheduled_run_with_no_side_known_does_both_sides_evenly(person):
    """Nobody is at the keys for a schedule: no check, no saved side is both sides, not exit 2."""
    person.run("show", "today", "--engine", "espeak", check=2)
    proc = run_cli("schedule", "run", "t1", "--", "--scripts", person.lib, "show", "today", "--json",
                   "--engine", "espeak", check=0)
    out = proc.stdout
    shown = json.loads(out[out.index("\n{") + 1:out.rindex("}") + 1])
    assert shown["side"] == "both"
    assert [c["side"] for c in shown["cues"] if c["pattern"] == "reach" and c["kind"] == "say"][:2] == ["left", "right"]
    assert "No side is known, so today each side is done evenly." in [c["text"] for c in shown["cues"]]


def test_done_today_for_a_past_day_is_what_today_was_then(person):
    person.log("--check", "left", "--date", day(3))
    for n in (3, 2, 1):
        person.done(n, "today")
    out = person.run("log", "--days", "4", check=0).stdout
    assert out.count("  one") == 2 and out.count("  two") == 1  # two days of stage one, then two
    t = person.today()
    assert (t["session"], t["stage"], t["day"]) == ("two", 2, 2)


def test_check_wanted_before_a_sided_session_until_a_check_today(person):
    from sisessions import app

    lib = app.open_library((str(person.lib),))
    assert app.check_wanted(lib, "today", app.Choices()) is True
    assert app.check_wanted(lib, "today", app.Choices(side="left")) is False
    assert app.check_wanted(lib, "soft", app.Choices()) is False  # no sided pattern
    assert app.check_wanted(lib, "evenly", app.Choices()) is False  # both sides: no side needed
    assert app.prepare(lib, "evenly", app.Choices()).opts.side is None
    assert app.record_check("same") is True
    assert app.check_wanted(lib, "today", app.Choices()) is False
    p = app.prepare(lib, "today", app.Choices())
    assert (p.opts.side, p.side.source, p.decision.session) == ("both", "check", "one")
