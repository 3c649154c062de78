"""Planning (SPEC §4): golden timelines for fixture scripts, sides, pace, skip, exact frames.

The planner is pure: speech lengths are given to it. Here a fixed rule (0.4 s a word) stands
in for the engine so that the golden files do not depend on a voice; the rendered-audio
tests in test_export.py check the same timelines against real synthesized speech.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sisessions.audio import RATE
from sisessions.errors import ScriptError, UsageError
from sisessions.plan.timeline import (
    CHIME_FRAMES,
    SAFETY_LINES,
    PlanOptions,
    expand,
    number_word,
    place,
)
from sisessions.script.library import Library
from tests.conftest import FIXTURES

GOLDEN = Path(__file__).parent / "golden"


def words_frames(text: str) -> int:
    return len(text.split()) * RATE * 2 // 5


def plan(name: str, **opts):
    lib = Library([FIXTURES / "phases", FIXTURES / "lib"])
    s = lib.session(name)
    o = PlanOptions(**opts)
    return place(s, lib, expand(s, lib, o), o, words_frames)


CASES = [
    ("mini-left", "mini", {"side": "left"}),
    ("mini-right-pace2", "mini", {"side": "right", "pace": 2.0}),
    ("fixed", "fixed", {}),
    ("mini-skip-tiny", "mini", {"side": "left", "skip": frozenset({"tiny"})}),
    # phases on the cues, and the floors: the 2 s release and the rest with no pause written
    # are planned with 8 s and 6 s of silence
    ("phased-pace05", "phased-both", {"side": "right", "pace": 0.5}),
]


@pytest.mark.parametrize("golden,name,opts", CASES, ids=[c[0] for c in CASES])
def test_golden_timeline(golden, name, opts):
    got = plan(name, **opts).to_json_dict()
    path = GOLDEN / f"{golden}.json"
    if os.environ.get("SISESSIONS_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=1) + "\n")
    assert got == json.loads(path.read_text())


@pytest.mark.parametrize("golden,name,opts", CASES, ids=[c[0] for c in CASES])
def test_cues_are_contiguous_and_json_consistent(golden, name, opts):
    tl = plan(name, **opts)
    t = 0
    for c in tl.cues:
        assert c.start == t and c.frames > 0
        t = c.end
    d = tl.to_json_dict()
    assert d["duration"] == round(tl.frames * 1000 / RATE) / 1000
    for a, b in zip(d["cues"], d["cues"][1:]):
        assert abs(a["start"] + a["duration"] - b["start"]) < 1e-9
    assert {c["kind"] for c in d["cues"]} <= {"say", "pause", "chime"}


def test_session_opens_with_a_chime_the_intro_then_the_safety_line():
    tl = plan("mini", side="left")
    assert tl.cues[0].kind == "chime"
    n = len(SAFETY_LINES)
    assert [c.text for c in tl.cues[1:2 + n]] == ["Hello.", *SAFETY_LINES]  # SPEC: the intro is spoken first
    assert tl.cues[-1].text == "Goodbye."


def test_sides_both_plays_working_then_other():
    tl = plan("mini", side="right")
    said = [c.text for c in tl.cues if c.kind == "say" and c.pattern == "sided-tiny"]
    assert said == ["Roll to your right side.", "Your left arm rests.",
                    "Roll to your left side.", "Your right arm rests."]
    assert [c.side for c in tl.cues if c.pattern == "sided-tiny" and c.kind == "say"] == ["right"] * 2 + ["left"] * 2


def test_side_both_does_every_sided_item_on_both_sides_and_fixed_ones_as_written(tmp_path):
    """Today's check said "same": no side is guessed, each working/other/both item is done on
    the left and then the right, a fixed side stays fixed, an unsided pattern stays once."""
    lib_dir = tmp_path / "lib"
    (lib_dir / "sessions").mkdir(parents=True)
    (lib_dir / "sessions" / "evenly.yaml").write_text(
        "title: Evenly\nchime: false\nitems:\n  - sided-tiny\n  - pattern: sided-tiny\n    side: other\n"
        "  - pattern: sided-tiny\n    side: both\n  - pattern: sided-tiny\n    side: right\n"
        "  - pattern: tiny\n    repetitions: 1\n")
    lib = Library([FIXTURES / "lib", lib_dir])
    s = lib.session("evenly")
    o = PlanOptions(side="both")
    tl = place(s, lib, expand(s, lib, o), o, words_frames)
    sides = [(c.item, c.side) for c in tl.cues if c.kind == "say" and c.pattern == "sided-tiny"]
    assert list(dict.fromkeys(sides)) == [(0, "left"), (0, "right"), (1, "left"), (1, "right"),
                                          (2, "left"), (2, "right"), (3, "right")]
    assert "Roll to your left side." in [c.text for c in tl.cues if c.item == 0]
    assert {c.side for c in tl.cues if c.pattern == "tiny"} == {None}
    assert tl.to_json_dict()["side"] == "both"


def test_fixed_side_needs_no_working_side():
    tl = plan("fixed")
    assert "Roll to your left side." in [c.text for c in tl.cues]


def test_missing_side_says_how_to_give_one(tmp_path):
    lib = tmp_path / "lib"
    (lib / "sessions").mkdir(parents=True)
    (lib / "sessions" / "working.yaml").write_text("title: W\nitems:\n  - sided-tiny\n", encoding="utf-8")
    library = Library([lib, FIXTURES / "lib"])
    with pytest.raises(UsageError) as e:
        expand(library.session("working"), library, PlanOptions())
    msg = str(e.value)
    assert "--side left" in msg and "check" in msg and "side set left" in msg
    assert "once" not in msg  # the check is done before each practice (source 002), not once


def test_both_sides_need_no_working_side_left_first():
    """`side: both` with no side given or saved: left, then right (unlock on day one)."""
    tl = plan("mini")
    assert [c.side for c in tl.cues if c.pattern == "sided-tiny" and c.kind == "say"] == ["left"] * 2 + ["right"] * 2
    assert tl.side is None


def test_repeat_counts_and_placeholders():
    said = [c.text for c in plan("mini", side="left").cues if c.kind == "say" and c.pattern == "tiny"]
    assert said == ["Lie down.", "Breathe in.", "And out.", "One.", "Lift slightly, 1 of 2.",
                    "Two.", "Lift slightly, 2 of 2."]


def test_pace_scales_silences_not_speech_or_chimes():
    a, b = plan("mini", side="left"), plan("mini", side="left", pace=2.0)
    assert len(a.cues) == len(b.cues)
    for x, y in zip(a.cues, b.cues):
        assert x.kind == y.kind
        assert y.frames == (x.frames if x.kind != "pause" else pytest.approx(2 * x.frames, abs=1))


def test_breath_lengths_come_from_the_session():
    tl = plan("mini", side="left")
    i = [c.text for c in tl.cues].index("Breathe in.")
    assert tl.cues[i + 1].frames == int(1.0 * RATE) and tl.cues[i + 3].frames == int(1.5 * RATE)


def test_chimes_mark_item_boundaries():
    tl = plan("mini", side="left")
    chimes = [c for c in tl.cues if c.kind == "chime"]
    # the opening one, one per item start (tiny, sided-tiny x2 sides), one written in tiny,
    # one closing
    assert len(chimes) == 6 and all(c.frames == CHIME_FRAMES for c in chimes)


def test_skip():
    tl = plan("mini", side="left", skip=frozenset({"tiny"}))
    assert {c.pattern for c in tl.cues} == {None, "sided-tiny"}
    with pytest.raises(UsageError, match="not in session"):
        plan("mini", side="left", skip=frozenset({"nope"}))
    with pytest.raises(UsageError, match="nothing left"):
        plan("mini", side="left", skip=frozenset({"tiny", "sided-tiny"}))


def test_runaway_session_is_refused_before_any_audio(tmp_path):
    lib = tmp_path / "lib"
    (lib / "patterns").mkdir(parents=True)
    (lib / "sessions").mkdir()
    (lib / "patterns" / "p.yaml").write_text("title: P\nsteps:\n  - repeat:\n      times: 50\n      steps:\n        - pause: 300\n")
    library = Library([lib])
    s = library.session(str(lib / "patterns" / "p.yaml"))
    with pytest.raises(ScriptError, match=r"p.yaml:3: the session would last more than 3 hours"):
        expand(s, library, PlanOptions())


@pytest.mark.parametrize("n,word", [(1, "One."), (7, "Seven."), (13, "Thirteen."), (20, "Twenty."),
                                    (42, "Forty-two."), (99, "Ninety-nine."), (100, "One hundred.")])
def test_number_words(n, word):
    assert number_word(n) == word


def test_show_json_cli_matches_spec_shape(cli):
    out = cli("--scripts", FIXTURES / "lib", "show", "fixed", "--json", "--engine", "espeak", check=0).stdout
    d = json.loads(out)
    assert set(d) >= {"session", "title", "side", "pace", "duration", "cues"}
    assert d["session"] == "fixed" and d["pace"] == 1.0
    assert set(d["cues"][0]) >= {"start", "duration", "kind", "text", "pattern", "phase", "side"}
    assert d["cues"][-1]["start"] + d["cues"][-1]["duration"] == pytest.approx(d["duration"], abs=0.002)


def test_lone_pattern_file_plays_as_a_session(cli):
    out = cli("show", FIXTURES / "lib" / "patterns" / "tiny.yaml", "--json", "--engine", "espeak", check=0).stdout
    d = json.loads(out)
    assert d["session"] == "tiny" and any(c["pattern"] == "tiny" for c in d["cues"])


def test_cues_carry_phase_and_side_and_the_floors_hold_at_any_pace():
    for pace in (0.5, 1.0, 3.0):
        tl = plan("phased-both", side="left", pace=pace)
        d = tl.to_json_dict()
        assert all({"phase", "side"} <= set(c) for c in d["cues"])
        said = [(c["text"], c["phase"], c["side"]) for c in d["cues"]
                if c["kind"] == "say" and c["pattern"] == "phased"]
        assert said[:3] == [("Lie on your left side.", "move", "left"), ("One.", None, "left"),
                            ("Slowly tighten.", "tighten", "left")]
        assert ("Lie on your right side.", "move", "right") in said
        pauses = [(c["phase"], c["duration"]) for c in d["cues"] if c["kind"] == "pause"]
        # a pause continues the phase of the say before it; the floors hold whatever the pace
        assert ("tighten", round(3 * pace, 3)) in pauses
        assert [p for p in pauses if p[0] == "release"] == [("release", max(8.0, 2 * pace))] * 4
        assert [p for p in pauses if p[0] == "rest"] == [("rest", 6.0)] * 4


def test_without_phases_nothing_is_lengthened():
    """The floors apply to phases only: a file without them plays as written."""
    a = plan("mini", side="left", pace=0.5)
    assert all(c.phase is None for c in a.cues)
    assert [c.frames for c in a.cues if c.kind == "pause"][0] == pytest.approx(0.75 * RATE, abs=1)


def test_show_json_cues_carry_the_phase_and_side_of_a_builtin_pattern(cli):
    """SPEC §4: every cue has `phase` and `side`; a repetition of a floor pattern is phased."""
    d = json.loads(cli("show", "washrag", "--side", "right", "--json", "--engine", "espeak", check=0).stdout)
    cues = [c for c in d["cues"] if c["pattern"] == "washrag"]
    assert {c["side"] for c in cues} == {"right"}
    assert {c["phase"] for c in cues} >= {"tighten", "release", "rest"}
    assert all(c["phase"] is None and c["side"] is None for c in d["cues"] if c["pattern"] is None)


@pytest.mark.parametrize("seconds,shown", [(0, "0:00.0"), (59.96, "1:00.0"), (599.96, "10:00.0"),
                                           (61.24, "1:01.2"), (3600.0, "60:00.0")])
def test_the_show_table_clock_never_reads_60_seconds(seconds, shown):
    """`show --minutes 10` ended on '9:60.0 end' (599.96 s rounded only after the minutes split)."""
    from sisessions.cli.report import _clock

    assert _clock(round(seconds * RATE), RATE) == shown
