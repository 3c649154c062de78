"""`--minutes N`: the plan lands within ±5% of N, the minimum silences hold, and N out of reach is refused."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sisessions import paths
from sisessions.errors import UsageError
from sisessions.plan.fit import (
    AIM,
    REPS,
    SILENCE,
    TOLERANCE,
    fit,
    fit_options,
    leave_out_order,
)
from sisessions.plan.timeline import PlanOptions, estimated, expand
from sisessions.script.library import Library
from sisessions.script.load import load_pattern, session_for_pattern


@pytest.fixture(scope="module")
def library():
    return Library([paths.builtin_scripts()])


def one_pattern(tmp_path: Path, yaml: str):
    """A library of one pattern (`yaml`) in tmp_path, and that pattern as a session."""
    f = tmp_path / "lib" / "patterns" / "p.yaml"
    f.parent.mkdir(parents=True)
    f.write_text(yaml, encoding="utf-8")
    return Library([tmp_path / "lib"]), session_for_pattern(load_pattern(f))


def planned_minutes(library, sid, opts):
    return estimated(library.session(sid), library, opts).seconds / 60


@pytest.mark.parametrize("sid, minutes", [
    ("daily", 24), ("daily", 25), ("daily", 30), ("daily", 45),
    ("towel", 5), ("towel", 8), ("unlock", 24), ("reshape", 40), ("reinforce", 33.5), ("check", 8),
])
@pytest.mark.parametrize("pace", [1.0, 1.4])
def test_fits_within_five_percent(library, sid, minutes, pace):
    base = PlanOptions(side="left", pace=pace)
    session = library.session(sid)
    ends = [estimated(session, library, replace(base, reps_scale=r, silence_scale=s)).seconds / 60
            for r, s in ((REPS[0], SILENCE[0]), (REPS[1], SILENCE[1]))]
    if not ends[0] / (1 + AIM) <= minutes <= ends[1] / (1 - AIM):
        assert pace != 1.0  # every case fits at pace 1; a slower pace moves the range
        with pytest.raises(UsageError, match="out of reach"):
            fit_options(session, library, base, minutes)
        return
    opts = fit_options(session, library, base, minutes)
    assert abs(planned_minutes(library, sid, opts) - minutes) <= TOLERANCE * minutes
    assert REPS[0] <= opts.reps_scale <= REPS[1] and SILENCE[0] <= opts.silence_scale <= SILENCE[1]
    assert (opts.side, opts.pace) == ("left", pace)


def test_every_reachable_minute_of_daily_fits(library):
    session, opts = library.session("daily"), PlanOptions(side="right")
    reached = 0
    for minutes in range(15, 61):
        try:
            fitted = fit_options(session, library, opts, minutes)
        except UsageError as e:
            assert "out of reach" in str(e), str(e)
            continue
        reached += 1
        assert abs(planned_minutes(library, "daily", fitted) - minutes) <= TOLERANCE * minutes
    assert reached >= 25


def test_a_length_already_within_five_percent_is_left_as_written(library):
    written = planned_minutes(library, "daily", PlanOptions(side="left"))
    opts = fit_options(library.session("daily"), library, PlanOptions(side="left"), written * 1.02)
    assert (opts.reps_scale, opts.silence_scale) == (1.0, 1.0)


def test_shorter_means_fewer_repetitions_longer_means_more(library):
    s, o = library.session("unlock"), PlanOptions(side="left")
    short, long = fit_options(s, library, o, 24), fit_options(s, library, o, 45)
    assert short.reps_scale < 1 < long.reps_scale
    assert short.silence_scale <= 1 <= long.silence_scale


@pytest.mark.parametrize("minutes", [1, 3, 170])
def test_out_of_reach_says_so_with_the_range(library, minutes):
    with pytest.raises(UsageError) as e:
        fit_options(library.session("daily"), library, PlanOptions(side="left"), minutes)
    msg = str(e.value)
    assert f"--minutes {minutes} is out of reach for 'daily'" in msg
    assert "between" in msg and "minutes" in msg and "\n" not in msg
    lo, hi = (float(x) for x in msg.split("between ")[1].split(" minutes")[0].split(" and "))
    for edge in (lo, hi):  # the range it names really is reachable
        fitted = fit_options(library.session("daily"), library, PlanOptions(side="left"), edge)
        assert abs(planned_minutes(library, "daily", fitted) - edge) <= TOLERANCE * edge


def test_shrinking_never_cuts_a_movement_release_or_rest(tmp_path):
    """The floors of the timeline that fitting relies on: up to 10 s a pause stays whole."""
    library, session = one_pattern(tmp_path, "title: P\nrepetitions: 4\nsteps:\n  - say: Set up.\n  - pause: 30\n"
                                   "  - repeat:\n      steps:\n        - say: Slowly tighten.\n        - pause: 5\n"
                                   "        - say: Release even more slowly.\n        - pause: 8\n"
                                   "        - say: Rest.\n        - pause: 12\n")
    opts = PlanOptions(reps_scale=REPS[0], silence_scale=SILENCE[0])
    pauses = [e.seconds for e in expand(session, library, opts) if e.kind == "pause"]
    assert pauses == [15.0] + [5.0, 8.0, 10.0] * 2


def test_the_cli_refuses_an_unreachable_length_with_exit_2(cli):
    proc = cli("show", "towel", "--minutes", "30")
    assert proc.returncode == 2
    assert proc.stderr.startswith("sisessions: --minutes 30 is out of reach for 'towel': it can be fitted to between")
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


FIXTURE = Path(__file__).parent.parent / "fixtures" / "fit" / "patterns" / "fit-rhythm.yaml"


@pytest.mark.parametrize("minutes", [2.5, 4])
def test_the_cli_fits_the_real_spoken_session(cli, minutes):
    """With real speech (the default voice) the rendered length is also within ±5%."""
    fitted = json.loads(cli("show", FIXTURE, "--minutes", minutes, "--json", check=0).stdout)
    assert abs(fitted["duration"] - minutes * 60) <= TOLERANCE * minutes * 60, fitted["duration"]
    plain = json.loads(cli("show", FIXTURE, "--json", check=0).stdout)
    rests = lambda tl: sum(c["text"] == "Rest." for c in tl["cues"])  # noqa: E731
    assert rests(plain) == 5 and (rests(fitted) > 5) == (minutes > plain["duration"] / 60)


@pytest.mark.parametrize("end", ["lowest", "highest"])
def test_both_ends_of_the_advertised_range_fit_with_real_speech(cli, end):
    """The range the error advertises is reachable by the real spoken session, ends included."""
    import re

    err = cli("show", FIXTURE, "--minutes", 180).stderr
    lo, hi = map(float, re.search(r"between ([\d.]+) and ([\d.]+) minutes", err).groups())
    minutes = lo if end == "lowest" else hi
    fitted = json.loads(cli("show", FIXTURE, "--minutes", minutes, "--json", check=0).stdout)
    assert abs(fitted["duration"] - minutes * 60) <= TOLERANCE * minutes * 60, (minutes, fitted["duration"])


# ---------------------------------------------------------------- below scaling: items left out

BUILTIN = ["check", "daily", "reinforce", "reshape", "towel", "unlock"]


def lower_bound(library, sid):
    """The shortest length the refusal of --minutes 1 advertises."""
    with pytest.raises(UsageError) as e:
        fit(library.session(sid), library, PlanOptions(side="left"), 1)
    return float(str(e.value).split("between ")[1].split(" and ")[0])


@pytest.mark.parametrize("sid", BUILTIN)
@pytest.mark.parametrize("minutes", [10, 15, "lower"])
def test_every_builtin_session_fits_short_lengths_by_leaving_items_out(library, sid, minutes):
    session, opts = library.session(sid), PlanOptions(side="left")
    minutes = lower_bound(library, sid) if minutes == "lower" else minutes
    longest = estimated(session, library, replace(opts, reps_scale=REPS[1], silence_scale=SILENCE[1])).seconds
    if minutes * 60 > longest / (1 - AIM):  # above what the session can be stretched to: refused
        with pytest.raises(UsageError, match="out of reach"):
            fit(session, library, opts, minutes)
        assert sid in ("check", "towel")  # the two short sessions; every other one reaches 10 and 15
        return
    f = fit(session, library, opts, minutes)
    events = expand(f.session, library, f.opts)
    seconds = estimated(f.session, library, f.opts).seconds
    assert abs(seconds - minutes * 60) <= TOLERANCE * minutes * 60, (seconds, f.left_out)
    kept = [it.pattern for it in f.session.items]
    assert kept[0] == session.items[0].pattern and kept[-1] == session.items[-1].pattern
    assert len(kept) + len(f.left_out) == len(session.items)
    # never shorter silences than the pattern minimums
    pauses = [e for e in events if e.kind == "pause"]
    assert pauses and all(e.seconds >= e.minimum - 1e-9 for e in pauses)
    # items are left out only when scaling alone could not reach the length
    full_shortest = estimated(session, library, replace(opts, reps_scale=REPS[0], silence_scale=SILENCE[0])).seconds
    assert bool(f.left_out) == (minutes * 60 < full_shortest / (1 + AIM))


def test_the_default_order_and_what_stays(library):
    """daily: reshape patterns go before unlock ones, longest first; arrive and stand-up stay."""
    s = library.session("daily")
    order = [s.items[i].pattern for i in leave_out_order(s, library, PlanOptions(side="left"))]
    assert order[:4] == ["back-lift", "arch-and-curl", "side-bend", "washrag"]
    assert order[4:] == ["psoas-release", "gentle-spine-waves"]  # the longer (both sides) first
    assert "arrive" not in order and "stand-up-slowly" not in order
    # unlock: Gentle Spine Waves says `keep: true` (a necessary step to unlock), so it stays
    u = library.session("unlock")
    assert [u.items[i].pattern for i in leave_out_order(u, library, PlanOptions())] == [
        "psoas-release", "leg-slides", "arch-and-flatten"]
    # reinforce: stand-up-slowly sits in the middle (before the standing patterns) and stays
    r = library.session("reinforce")
    assert "stand-up-slowly" not in [r.items[i].pattern for i in leave_out_order(r, library, PlanOptions(side="left"))]


def test_skip_makes_the_first_played_item_stay(library):
    s = library.session("daily")
    order = leave_out_order(s, library, PlanOptions(side="left", skip=frozenset({"arrive"})))
    assert 1 not in order  # gentle-spine-waves is now the first item played


MARKED = """title: Marked
items:
  - arrive
  - pattern: gentle-spine-waves
    priority: 9
  - pattern: side-bend
    priority: 2
  - pattern: washrag
    optional: true
  - back-lift
  - stand-up-slowly
"""


def test_optional_then_priority_decide_the_order(tmp_path, library):
    from sisessions.script.load import load_session

    f = tmp_path / "marked.yaml"
    f.write_text(MARKED, encoding="utf-8")
    s = load_session(f)
    order = [s.items[i].pattern for i in leave_out_order(s, library, PlanOptions(side="left"))]
    assert order == ["washrag", "side-bend", "back-lift", "gentle-spine-waves"]
    fitted = fit(s, library, PlanOptions(side="left"), 12)
    assert [it.pattern for it in fitted.left_out] == order[: len(fitted.left_out)] and fitted.left_out


@pytest.mark.parametrize("bad, message", [
    ("    priority: 0\n", "priority"), ("    priority: 12\n", "priority"),
    ("    optional: maybe\n", "optional"), ("    optionl: true\n", "optionl"),
])
def test_bad_marks_are_script_errors_with_the_line(tmp_path, cli, bad, message):
    f = tmp_path / "bad.yaml"
    f.write_text("title: Bad\nitems:\n  - arrive\n  - pattern: washrag\n" + bad + "  - stand-up-slowly\n",
                 encoding="utf-8")
    proc = cli("validate", f)
    assert proc.returncode == 2
    assert f"{f}:5:" in proc.stderr and message in proc.stderr and "Traceback" not in proc.stderr


def test_the_cli_names_what_it_left_out_on_stderr_and_in_show(cli):
    """What is left out is chosen on the plan's estimates, before any line is spoken; the length
    is then checked with real speech (espeak: daily's lines in the default voice cost half a
    minute of synthesis; that voice's fit is test_the_cli_fits_the_real_spoken_session's)."""
    proc = cli("show", "daily", "--minutes", 15, "--side", "left", "--engine", "espeak", check=0)
    lines = proc.stderr.strip().splitlines()
    assert lines == [("sisessions: Left out to fit the time: Belly-Lying Back Lift, Arch and Curl, "
                      "Side Bend, Washrag Twist.")]
    assert proc.stdout.rstrip().splitlines()[-1] == lines[0].removeprefix("sisessions: ")
    data = json.loads(cli("show", "daily", "--minutes", 15, "--side", "left", "--engine", "espeak", "--json",
                          check=0).stdout)
    assert abs(data["duration"] - 900) <= TOLERANCE * 900  # with real speech too
    assert not {"arch-and-curl", "back-lift", "side-bend", "washrag"} & {c["pattern"] for c in data["cues"]}


def test_phase_floors_hold_under_minutes_and_pace(tmp_path):
    """SPEC §2.2: at any --pace or --minutes no release gets under 8 s of silence, no rest under 6 s."""
    library, session = one_pattern(tmp_path, "title: P\nrepetitions: 4\nsteps:\n  - repeat:\n      steps:\n"
                                   "        - {say: Slowly tighten., phase: tighten}\n        - pause: 5\n"
                                   "        - {say: Release even more slowly., phase: release}\n        - pause: 9\n"
                                   "        - {say: Rest., phase: rest}\n        - pause: 10\n")
    for pace in (0.5, 1.0):
        opts = PlanOptions(pace=pace, reps_scale=REPS[0], silence_scale=SILENCE[0])
        phases = [(e.phase, e.seconds) for e in expand(session, library, opts) if e.kind == "pause"]
        assert [s for p, s in phases if p == "release"] == [max(8.0, 9 * pace)] * 2
        assert [s for p, s in phases if p == "rest"] == [max(6.0, 10 * pace)] * 2
    for minutes in (1.5, 2):  # fitted by the CLI's own path
        f_ = fit(session, library, PlanOptions(pace=0.5), minutes)
        pauses = [e for e in expand(f_.session, library, f_.opts) if e.kind == "pause"]
        assert all(e.seconds >= 8.0 for e in pauses if e.phase == "release")
        assert all(e.seconds >= 6.0 for e in pauses if e.phase == "rest")


def test_a_short_range_is_named_in_tenths_not_as_between_2_and_2(library):
    """The quick check lasts under two minutes: its range reads 'between 1.6 and 2.3', say."""
    import re

    with pytest.raises(UsageError) as e:
        fit_options(session_for_pattern(library.pattern("quick-check")), library, PlanOptions(), 10)
    lo, hi = map(float, re.search(r"between ([\d.]+) and ([\d.]+) minutes", str(e.value)).groups())
    assert lo < hi, str(e.value)
