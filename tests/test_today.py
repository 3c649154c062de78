"""`today`: a fake practice log walked through a programme's stages, day by day."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from sisessions import app, paths
from sisessions.practice import log, today
from sisessions.script.load import load_program
from tests.conftest import FIXTURES, run_cli

LIB = FIXTURES / "morning"
STEPS = load_program(LIB / "programs" / "steps.yaml")  # first 2 days, second 3 days, then after
DAY0 = date(2025, 3, 3)


def play(day: int, session: str, completed: bool = True, hour: int = 7) -> dict:
    """A play record as the practice log writes it (local time with its offset)."""
    t = datetime(2025, 3, 3, hour, 30).astimezone() + timedelta(days=day)
    return {"kind": "play", "time": t.isoformat(timespec="seconds"), "session": session, "side": "left",
            "pace": 1.0, "engine": "piper", "completed": completed, "stopped_in": None, "minutes": 9.5}


def typed(records: list[dict]) -> list:
    """The records as the practice log reads them (it skips a bad one)."""
    out = []
    for r in records:
        try:
            out.append(log.from_json(r))
        except log.BadRecord:
            continue
    return out


def on(day: int) -> date:
    return DAY0 + timedelta(days=day)


def write_log(records: list[dict], extra: str = "") -> Path:
    f = paths.data_dir() / "practice.jsonl"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text("".join(json.dumps(r) + "\n" for r in records) + extra, encoding="utf-8")
    return f


def test_a_schedule_is_carried_through_the_stages_day_by_day():
    """Each morning ask `today`, practise it: first x2, second x3, then `after` for good."""
    records, seen = [], []
    for day in range(8):
        t = today.walk(STEPS, typed(records), on(day))
        seen.append((t.session, t.stage, t.day))
        records.append(play(day, t.session))
    assert seen == [("first", 0, 1), ("first", 0, 2),
                    ("second", 1, 1), ("second", 1, 2), ("second", 1, 3),
                    ("after", None, 1), ("after", None, 2), ("after", None, 3)]


@pytest.mark.parametrize("records, expected", [
    ([], ("first", 0, 1, False)),
    ([play(0, "first")], ("first", 0, 2, False)),
    # two plays on one day are one day of practice
    ([play(0, "first"), play(0, "first", hour=19)], ("first", 0, 2, False)),
    # a session stopped half-way does not count
    ([play(0, "first", completed=False)], ("first", 0, 1, False)),
    # a session of another stage does not move the programme
    ([play(0, "second"), play(1, "after")], ("first", 0, 1, False)),
    # a gap of a week leaves the person where they were
    ([play(0, "first"), play(9, "first")], ("second", 1, 1, False)),
    # pain records and other kinds are not practice
    ([{"kind": "pain", "time": play(0, "first")["time"], "level": 3}], ("first", 0, 1, False)),
    # practice logged later than `today` (a clock that was wrong) is not counted yet
    ([play(20, "first")], ("first", 0, 1, False)),
    # practised today already: the answer is the next one, and it says so
    ([play(10, "first"), play(11, "first")], ("second", 1, 1, True)),
])
def test_which_days_count(records, expected):
    t = today.walk(STEPS, typed(records), on(11))
    assert (t.session, t.stage, t.day, t.practised_today) == expected


def test_why_is_one_plain_sentence():
    t = today.walk(STEPS, typed([]), on(0))
    assert t.why() == ("No session of the programme completed yet, so the programme 'Two small steps' "
                       "starts at stage 1 of 2 (first), day 1 of 2.")
    t = today.walk(STEPS, typed([play(0, "first")]), on(1))
    assert t.why() == ("The programme 'Two small steps' is at stage 1 of 2 (first), day 2 of 2: "
                       "1 day of first done, the last on 2025-03-03.")
    t = today.walk(STEPS, typed([play(0, "first"), play(1, "first")]), on(2))
    assert t.why() == ("The programme 'Two small steps' is at stage 2 of 2 (second), day 1 of 3: "
                       "stage 1 (first) was done on 2 days, the last on 2025-03-04.")
    done = [play(d, s) for d, s in enumerate(["first", "first", "second", "second", "second"])]
    t = today.walk(STEPS, typed(done), on(4))
    assert t.why() == ("All 2 stages of 'Two small steps' are done (the last on 2025-03-07); after them "
                       "the programme says after; you already practised today, so this is the next one.")


def test_today_command_reads_the_log_and_play_today_resolves(tmp_path):
    # The fixture library has its own programme beside the built-in one: choose, once.
    p = run_cli("--scripts", LIB, "today", check=2)
    assert "several programmes" in p.stderr and "--program" in p.stderr
    p = run_cli("--scripts", LIB, "today", "--program", "steps", check=0)
    assert "follows the programme 'Two small steps' (steps)" in p.stdout

    yesterday = datetime.now().astimezone() - timedelta(days=1)
    records = [dict(play(0, "first"), time=(yesterday - timedelta(days=1)).isoformat()),
               dict(play(0, "first"), time=yesterday.isoformat())]
    write_log(records, extra="{not json\n")
    p = run_cli("--scripts", LIB, "today", check=0)
    assert p.stdout.splitlines()[0] == "Today: second (The second stage)"
    assert "stage 2 of 2 (second), day 1 of 3" in p.stdout
    assert "practice.jsonl" in p.stderr  # the broken line is reported, the rest still counts

    shown = json.loads(run_cli("--scripts", LIB, "show", "today", "--json", "--engine", "espeak",
                               check=0).stdout)
    assert shown["session"] == "second"


def test_a_session_of_yours_named_today_keeps_its_name(tmp_path):
    lib = tmp_path / "lib"
    (lib / "sessions").mkdir(parents=True)
    (lib / "patterns").mkdir()
    (lib / "sessions" / "today.yaml").write_text((LIB / "sessions" / "first.yaml").read_text())
    (lib / "patterns" / "hello.yaml").write_text((LIB / "patterns" / "hello.yaml").read_text())
    library = app.open_library((str(lib),))
    assert today.resolve_name(library) == "today"


def test_no_programme_or_an_unknown_one_is_a_usage_error(tmp_path):
    assert run_cli("--scripts", LIB, "today", "--program", "nope", check=2).stderr.startswith(
        "sisessions: Unknown programme 'nope'")


def test_a_session_outside_the_programme_does_not_count_as_practised_today():
    """A towel session today neither moves the programme nor makes it say 'already practised'."""
    from datetime import date

    from sisessions.practice.today import walk
    from sisessions.script.model import Loc, Program, Stage

    prog = Program("p", "p.yaml", "P", (Stage("unlock", 2, Loc("p.yaml", 3)),), then="daily")
    rec = {"kind": "play", "time": "2026-11-21T07:30:00+01:00", "session": "towel", "completed": True}
    t = walk(prog, typed([rec]), date(2026, 11, 21))
    assert t.session == "unlock" and not t.practised_today
    assert "already practised" not in t.why() and "No session of the programme completed yet" in t.why()


# ---------------------------------------------------------------- the light, as a table (SPEC §8)

def _entries(spec: str) -> list:
    """'a-1:4 m0:2 p-1' -> records: after pain 4 a day ago, morning pain 2 today, a play a day ago."""
    base = date(2026, 3, 10)
    out = []
    for tok in spec.split():
        kind, rest = tok[0], tok[1:]
        n, _, v = rest.partition(":")
        d = base + timedelta(days=int(n))
        if kind == "p":
            out.append(log.play_record("first", "left", 1.0, "piper", True, None, 20,
                                       time=datetime(d.year, d.month, d.day, 12).astimezone().isoformat()))
        else:
            when = {"a": "after", "m": "morning", "o": "other"}[kind]
            out.append(log.pain_record(int(v), when=when,
                                       time=datetime(d.year, d.month, d.day, 18 if kind == "a" else 7).astimezone().isoformat()))
    return out


@pytest.mark.parametrize("spec, light", [
    ("", "green"),
    ("p-1 a-1:3", "green"),
    ("p-1 a-1:4", "amber"),                      # not yet known to settle
    ("p-1 a-1:5 m0:3", "amber"),                 # settled: at most 3 the next morning
    ("m-1:4 p-1 a-1:5 m0:4", "amber"),           # settled: no higher than the morning before
    ("m-1:2 p-1 a-1:5 m0:4", "red"),             # not settled, and 2 above the median
    ("p-1 a-1:6", "red"),
    ("m-3:2 m-2:2 m-1:2 m0:4", "red"),           # a rise of 2 over the 7-day median
    ("m-3:2 m-2:2 m-1:2 m0:3", "green"),         # a rise of 1 is within
    ("p-2 a-2:7 p-1", "green"),                  # a later session had no entry: 7 is not its pain
    ("p-9 a-9:7", "green"),                      # older than the 7-day window
    ("o0:9", "green"),                           # `other` pain is not part of the light (it refers)
])
def test_the_light_follows_the_pain_monitoring_model(spec, light):
    from sisessions.practice.light import Pains
    from sisessions.script.model import PainRules

    assert Pains(_entries(spec), PainRules()).light(date(2026, 3, 10)).colour == light


def test_other_pain_of_8_still_refers():
    from sisessions.practice.light import Pains
    from sisessions.script.model import PainRules

    assert Pains(_entries("o0:9"), PainRules()).refer(date(2026, 3, 10)) == "the latest pain, on 2026-03-10, was 9/10"
    assert Pains(_entries("o-1:9 o0:7"), PainRules()).refer(date(2026, 3, 10)) is None
