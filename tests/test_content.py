"""The built-in library: every file valid, the sessions the programme needs, the rhythm and
floors of every movement, and what the voice must say to be faithful to the sources and safe.

Phases (SPEC §2.2) are written in the scripts: every `say` and `pause` of a repetition of a
floor pattern names its phase (`tighten`, `release`, `rest`, `move`; a pause continues the
phase of the step before it). The rules checked here, on the files and on the plans:
  - as written, each tighten and move gets >= 5 s of silence, each release >= 8 s, each rest >= 10 s;
  - in the plan (speech estimated at 110 wpm, at --pace 0.5, 1 and 3, and fitted by --minutes),
    each release lasts >= 1.25 times the tighten before it (speech included), no release
    has < 8 s of silence and no rest < 6 s;
  - a cue that says "more slowly" or "slower" is a release, so the words are true in time.
"""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from sisessions import paths
from sisessions.errors import UsageError
from sisessions.plan.fit import REPS, SILENCE, fit, leave_out_order
from sisessions.plan.timeline import SAFETY_LINES, SIDE_HOWTO, PlanOptions, estimated, expand
from sisessions.plan.validate import validate
from sisessions.script.library import Library
from sisessions.script.load import load_program, session_for_pattern
from sisessions.script.model import Breathe, Pause, Repeat, Say

MIN_WRITTEN = {"tighten": 5.0, "move": 5.0, "release": 8.0, "rest": 10.0}
RATIO = 1.25
FLOOR_RELEASE, FLOOR_REST = 8.0, 6.0
STANDING = {"towel-wall-rock", "weight-shifts", "slow-walking", "self-check", "quick-check"}
AROUND = {"arrive", "stand-up-slowly", "before-you-begin"}  # opening, safety and closing parts
SESSIONS = {"check", "towel", "unlock", "reshape", "reinforce", "daily"}
REQUIRED_PATTERNS = {
    "self-check": None, "quick-check": None, "towel-wall-rock": "unlock", "gentle-spine-waves": "unlock",
    "arch-and-flatten": "unlock", "leg-slides": "unlock", "psoas-release": "unlock",
    "arch-and-curl": "reshape", "side-bend": "reshape", "back-lift": "reshape",
    "washrag": "reshape", "weight-shifts": "reinforce", "slow-walking": "reinforce",
}
MAX_SENTENCE_WORDS = 20  # short sentences: one instruction at a time
RELEASE_WORDS = re.compile(r"\bmore slowly\b|\bslower\b", re.I)
BREATH_CUE = re.compile(r"\bbreathe (in|out)\b|\bbreath (in|out)\b", re.I)
PACES = (0.5, 1.0, 3.0)


@pytest.fixture(scope="module")
def library():
    return Library([paths.builtin_scripts()])


def builtin_ids(kind: str) -> list[str]:
    return sorted(p.stem for p in (paths.builtin_scripts() / kind).glob("*.yaml"))


def floor_patterns() -> list[str]:
    lib = Library([paths.builtin_scripts()])
    return [pid for pid in builtin_ids("patterns")
            if lib.pattern(pid).stage and pid not in STANDING]


def says(steps):
    for st in steps:
        if isinstance(st, Say):
            yield st.text
        elif isinstance(st, Repeat):
            yield from says(st.steps)


def repeats(steps):
    for st in steps:
        if isinstance(st, Repeat):
            yield st
            yield from repeats(st.steps)


def written_phases(body) -> list[tuple[str, str, float]]:
    """(phase, first cue, seconds of silence) for each run of one phase in a repetition."""
    out: list[list] = []
    for st in body:
        assert not isinstance(st, (Repeat, Breathe)), "no nested repeats or breath steps in a repetition"
        phase = st.phase
        if out and out[-1][0] == phase and isinstance(st, Pause):
            out[-1][2] += st.seconds
        elif out and out[-1][0] == phase and isinstance(st, Say) and phase != "move":
            pass  # a second cue of the same phase
        else:
            out.append([phase, getattr(st, "text", ""), st.seconds if isinstance(st, Pause) else 0.0])
    return [tuple(p) for p in out]


def session_texts(library, sid: str, side: str = "left") -> str:
    s = library.session(sid)
    events = expand(s, library, PlanOptions(side=side))
    return " ".join(e.text for e in events if e.kind == "say").lower()


def planned_runs(tl):
    """(phase, pattern, seconds with speech, seconds of silence) for each run of one phase."""
    runs: list[list] = []
    for c in tl.cues:
        key = (c.item, c.side, c.phase)
        sec = c.frames / tl.rate
        if runs and runs[-1][0] == key:
            runs[-1][3] += sec
            runs[-1][4] += sec if c.kind == "pause" else 0.0
        else:
            runs.append([key, c.phase, c.pattern, sec, sec if c.kind == "pause" else 0.0])
    return [(r[1], r[2], r[3], r[4]) for r in runs]


def rhythm_problems(tl) -> list[str]:
    bad, tighten = [], 0.0
    for phase, pattern, total, silent in planned_runs(tl):
        if phase == "tighten":
            tighten += total
            continue
        if phase == "release":
            if total < RATIO * tighten - 1e-6:
                bad.append(f"{pattern}: release {total:.1f} s < {RATIO} x tighten {tighten:.1f} s")
            if silent < FLOOR_RELEASE - 1e-6:
                bad.append(f"{pattern}: release with {silent:.1f} s of silence")
        if phase == "rest" and silent < FLOOR_REST - 1e-6:
            bad.append(f"{pattern}: rest with {silent:.1f} s of silence")
        tighten = 0.0
    return bad


# ------------------------------------------------------------------ the files

def test_every_builtin_file_validates_without_a_rhythm_warning(library):
    warnings: list = []
    n, problems = validate(library, (), warnings)
    assert problems == [] and warnings == []
    assert n == len(builtin_ids("patterns")) + len(builtin_ids("sessions")) + len(builtin_ids("programs"))


def test_the_patterns_and_sessions_the_programme_needs(library):
    pids = set(builtin_ids("patterns"))
    assert set(REQUIRED_PATTERNS) <= pids
    for pid, stage in REQUIRED_PATTERNS.items():
        assert library.pattern(pid).stage == stage, pid
    assert SESSIONS <= set(builtin_ids("sessions"))


def test_at_least_four_patterns_are_sided_and_every_sided_one_says_its_side(library):
    sided = [pid for pid in builtin_ids("patterns") if library.pattern(pid).sided]
    assert len(sided) >= 4
    for pid in sided:
        assert any("{side}" in t for t in says(library.pattern(pid).steps)), pid


@pytest.mark.parametrize("pid", builtin_ids("patterns"))
def test_default_repetitions_are_two_to_ten(library, pid):
    p = library.pattern(pid)
    for r in repeats(p.steps):
        times = r.times or p.repetitions
        assert times is not None and 2 <= times <= 10, (pid, times)


# ------------------------------------------------------------------ phases and rhythm as written

def test_the_floor_patterns_are_the_movement_patterns():
    assert set(floor_patterns()) == {"gentle-spine-waves", "arch-and-flatten", "leg-slides", "psoas-release",
                                     "arch-and-curl", "side-bend", "washrag", "back-lift"}


@pytest.mark.parametrize("pid", floor_patterns())
def test_every_movement_of_every_floor_pattern_has_its_phase(library, pid):
    p = library.pattern(pid)
    bodies = list(repeats(p.steps))
    assert bodies, pid
    for r in bodies:
        for st in r.steps:
            assert st.phase is not None, f"{pid}:{st.loc.line}: a step of a repetition without a phase"
        ph = written_phases(r.steps)
        kinds = [k for k, _, _ in ph]
        assert "tighten" in kinds and "release" in kinds and kinds[-1] == "rest", (pid, kinds)
        assert kinds.count("rest") == 1, pid
        # pandiculation: every tighten is followed by its release
        for a, b in zip(kinds, kinds[1:]):
            if a == "tighten":
                assert b == "release", (pid, kinds)


@pytest.mark.parametrize("pid", builtin_ids("patterns"))
def test_silence_minimums_of_every_phase_as_written(library, pid):
    for r in repeats(library.pattern(pid).steps):
        for phase, cue, seconds in written_phases(r.steps):
            if phase is not None:
                assert seconds >= MIN_WRITTEN[phase], f"{pid}: {phase} '{cue}' has {seconds:g} s of silence"


@pytest.mark.parametrize("pid", builtin_ids("patterns"))
def test_a_cue_that_says_more_slowly_is_a_release(library, pid):
    def walk(steps):
        for st in steps:
            if isinstance(st, Repeat):
                yield from walk(st.steps)
            elif isinstance(st, Say):
                yield st
    for st in walk(library.pattern(pid).steps):
        if RELEASE_WORDS.search(st.text) and st.phase is not None:
            assert st.phase == "release", (pid, st.text)
        if st.phase == "release":
            assert "slow" in st.text.lower(), (pid, st.text)


@pytest.mark.parametrize("pid", builtin_ids("patterns"))
def test_no_breath_is_tied_to_a_movement(library, pid):
    """One in-breath across a 13-15 s movement invites holding it and bracing (issue 18.7)."""
    for r in repeats(library.pattern(pid).steps):
        for st in r.steps:
            assert not isinstance(st, Breathe), pid
            if isinstance(st, Say):
                assert not BREATH_CUE.search(st.text), (pid, st.text)


# ------------------------------------------------------------------ rhythm and floors in the plan

@pytest.mark.parametrize("sid", sorted(SESSIONS))
@pytest.mark.parametrize("pace", PACES)
def test_rhythm_and_floors_hold_at_every_pace(library, sid, pace):
    tl = estimated(library.session(sid), library, PlanOptions(side="left", pace=pace))
    assert rhythm_problems(tl) == []
    if sid not in ("check", "towel"):
        assert any(ph == "release" for ph, *_ in planned_runs(tl)), sid


@pytest.mark.parametrize("sid", sorted(SESSIONS))
@pytest.mark.parametrize("minutes", [10, "shortest", "longest"])
def test_rhythm_and_floors_hold_when_fitted(library, sid, minutes):
    session, opts = library.session(sid), PlanOptions(side="left")
    if minutes == "shortest":
        o = replace(opts, reps_scale=REPS[0], silence_scale=SILENCE[0], pace=0.5)
    elif minutes == "longest":
        o = replace(opts, reps_scale=REPS[1], silence_scale=SILENCE[1], pace=3.0)
    else:
        try:
            f = fit(session, library, opts, minutes)
        except UsageError as e:  # the check is a short, standing session with no movement to fit
            assert sid == "check" and "out of reach" in str(e)
            return
        session, o = f.session, f.opts
    assert rhythm_problems(estimated(session, library, o)) == []


def test_unlock_fits_ten_minutes_and_keeps_gentle_spine_waves(library):
    """The source: Gentle Spine Waves is a necessary step to unlock; fitting never drops it."""
    s, opts = library.session("unlock"), PlanOptions()
    assert "gentle-spine-waves" not in [s.items[i].pattern for i in leave_out_order(s, library, opts)]
    for minutes in (10, 12, 15, 20):
        f = fit(s, library, opts, minutes)
        assert "gentle-spine-waves" in [it.pattern for it in f.session.items], minutes
        assert "gentle-spine-waves" not in [it.pattern for it in f.left_out]


# ------------------------------------------------------------------ what the voice says

@pytest.mark.parametrize("pid", builtin_ids("patterns"))
def test_sentences_are_short(library, pid):
    for text in says(library.pattern(pid).steps):
        for sentence in re.split(r"(?<=[.?!])\s+", text):
            assert len(sentence.split()) <= MAX_SENTENCE_WORDS, (pid, sentence)


def test_the_opening_safety_line_says_when_to_stop_and_when_to_see_a_professional():
    said = " ".join(SAFETY_LINES).lower()
    assert "not medical advice" in said
    assert "sharp" in said and "usual ache" in said  # issue 18.9: the usual ache is not a stop sign
    assert "doctor" in said and "new, severe or getting worse" in said


@pytest.mark.parametrize("sid", ["check", "unlock"])
def test_check_and_unlock_speak_the_referral_and_red_flags(library, sid):
    said = session_texts(library, sid)
    for words in ("fall", "accident", "fever", "at night", "numb", "weak", "bladder", "bowel",
                  "pregnant", "belly", "examination", "get checked first"):
        assert words in said, (sid, words)


def test_the_self_check_is_the_sources_check(library):
    said = " ".join(says(library.pattern("self-check").steps)).lower()
    assert "stand" in said and "lie on your back" not in said      # the pelvis not on the fingers
    for words in ("ridge", "hip bone", "dimple", "waist", "two to three inches", "don't guess",
                  "can't feel a clear difference", "painful side is often not the deeper", "chiropractor", "osteopath",
                  "physiotherapist"):
        assert words in said, words
    assert "that is fine" not in said and "another day" not in said


def test_the_check_is_before_each_practice_not_once(library):
    s = library.session("check")
    assert [it.pattern for it in s.items] == ["before-you-begin", "self-check"]
    outro = s.outro.lower()
    assert "side set left" in outro and "side set right" in outro
    assert "s i sessions" in outro  # spelled so that a listener can type it
    assert "once" not in outro and "before each practice" in outro
    assert "check" in SIDE_HOWTO and "once" not in SIDE_HOWTO


def test_the_quick_check_ends_on_the_question(library):
    p = library.pattern("quick-check")
    said = list(says(p.steps))
    assert said[-1] == "Which side felt deeper: left, right, or the same?"
    text = " ".join(said).lower()
    assert "stand" in text and "ridge" in text and "dimple" in text and "don't guess" in text
    assert "l, r or s" in text and "aloud" in text
    seconds = sum(st.seconds for st in p.steps if isinstance(st, Pause)) + sum(
        len(t.split()) * 60 / 110 for t in said)
    assert 45 <= seconds <= 90  # about a minute


def test_skipping_and_soreness_are_said_with_how(library):
    arrive = " ".join(says(library.pattern("arrive").steps)).lower()
    assert "cringe" in arrive and "skip it" in arrive and "later day" in arrive
    assert "next bell" in arrive and "say next" in arrive      # how to skip, lying down
    assert "usual ache is not a stop sign" in arrive and "never push into pain" in arrive
    assert "no hurry" in arrive
    back = " ".join(says(library.pattern("back-lift").steps)).lower()
    assert "pillow under your belly" in back and "head last" in back and "pregnant" in back
    assert "cringe" in session_texts(library, "towel")
    for sid in ("unlock", "reshape", "reinforce", "daily"):
        assert "soreness for an hour or two" in library.session(sid).outro.lower(), sid


def test_every_session_that_closes_the_eyes_opens_them_before_getting_up(library):
    up = re.compile(r"\b(stand|standing|walk|walking|step|steps|weight|kneel)\b", re.I)
    for sid in builtin_ids("sessions"):
        events = expand(library.session(sid), library, PlanOptions(side="left"))
        closed = False
        for e in events:
            if e.kind != "say":
                continue
            t = e.text.lower()
            if "close your eyes" in t:
                closed = True
            if "open your eyes" in t:
                closed = False
            if closed and e.pattern != "arrive":
                assert not up.search(t), (sid, e.pattern, e.text)
    stand = " ".join(says(library.pattern("stand-up-slowly").steps)).lower()
    assert stand.index("open your eyes") < stand.index("roll slowly onto your side")
    assert "hands and knees" in stand and "kneel" in stand
    assert "kneel" in " ".join(says(library.pattern("arrive").steps)).lower()  # the way down
    walking = " ".join(says(library.pattern("slow-walking").steps)).lower()
    assert "eyes open" in walking and "past your right" in walking and "turn around" in walking


def test_floor_sessions_scan_the_back_before_and_after(library):
    first = " ".join(says(library.pattern("arrive").steps)).lower()
    last = " ".join(says(library.pattern("stand-up-slowly").steps)).lower()
    for text in (first, last):
        assert "floor" in text and "left with right" in text
    assert "how it was at the start" in last
    for sid in ("unlock", "reshape", "reinforce", "daily"):
        items = [it.pattern for it in library.session(sid).items]
        assert "arrive" in items and "stand-up-slowly" in items, sid


def test_psoas_release_is_done_on_both_sides_as_a_pandiculation(library):
    for sid in ("daily", "unlock"):
        events = expand(library.session(sid), library, PlanOptions(side="left"))
        sides = {e.side for e in events if e.pattern == "psoas-release"}
        assert sides == {"left", "right"}, sid
    said = " ".join(says(library.pattern("psoas-release").steps)).lower()
    assert "weight of the leg" not in said and "hand" in said and "support" in said


def test_unlock_needs_no_saved_side(library):
    events = expand(library.session("unlock"), library, PlanOptions())
    done = [(e.pattern, e.side) for e in events if e.kind == "chime" and e.pattern]
    assert ("leg-slides", "left") in done and ("leg-slides", "right") in done
    with pytest.raises(UsageError, match="check"):
        expand(library.session("reshape"), library, PlanOptions())


@pytest.mark.parametrize("minutes", [None, 5, 8, 11])
def test_the_towel_rock_count_is_true_under_minutes(library, minutes):
    session, opts = library.session("towel"), PlanOptions()
    if minutes:
        f = fit(session, library, opts, minutes)
        session, opts = f.session, f.opts
    said = [e.text for e in expand(session, library, opts) if e.kind == "say"]
    rocks = [t for t in said if re.match(r"\d+ of \d+\.", t)]
    totals = {int(t.split(" of ")[1].split(".")[0]) for t in rocks}
    assert totals == {len(rocks)}
    assert [int(t.split(" of ")[0]) for t in rocks] == list(range(1, len(rocks) + 1))
    if len(rocks) != 10:
        assert not any(re.search(r"\bten\b", t, re.I) for t in said)


def test_the_towel_is_not_a_cure_and_is_done_once_a_day_or_as_needed(library):
    outro = library.session("towel").outro.lower()
    assert "not a cure" in outro and "when you need it" in outro


# ------------------------------------------------------------------ the sessions

@pytest.mark.parametrize("sid", sorted(SESSIONS))
def test_each_session_opens_calmly_and_ends_standing(library, sid):
    s = library.session(sid)
    assert s.intro and s.outro
    items = [it.pattern for it in s.items]
    floor = [i for i, p in enumerate(items) if p not in STANDING | AROUND]
    if floor:  # after the last floor pattern comes the slow way up
        assert "stand-up-slowly" in items[floor[-1] + 1:], sid
        assert items.index("arrive") < floor[0], sid
    else:
        assert set(items) <= STANDING | {"before-you-begin"}, sid


def test_where_to_begin_is_the_check_then_the_programme(library):
    daily = library.session("daily")
    assert "begin" not in (daily.about or "").lower()
    assert "after the programme" in daily.about.lower()
    if "every stage" in daily.about.lower():
        stages = {library.pattern(it.pattern).stage for it in daily.items}
        assert {"unlock", "reshape", "reinforce"} <= stages
    assert library.session("unlock").items[0].pattern == "before-you-begin"


def test_stages_sessions_use_their_stage_and_reshape_works_toward_the_side(library):
    for sid in ("unlock", "reshape", "reinforce"):
        stages = {library.pattern(it.pattern).stage for it in library.session(sid).items}
        assert sid in stages
    reshape = library.session("reshape")
    toward = [it for it in reshape.items if library.pattern(it.pattern).sided and it.side == "working"]
    assert len(toward) >= 2


@pytest.mark.parametrize("side", ["left", "right"])
def test_daily_is_fifteen_to_thirty_minutes(library, side):
    seconds = estimated(library.session("daily"), library, PlanOptions(side=side)).seconds
    assert 15 * 60 <= seconds <= 30 * 60


def test_towel_is_about_five_minutes(library):
    seconds = estimated(library.session("towel"), library, PlanOptions()).seconds
    assert 4.5 * 60 <= seconds <= 6.5 * 60


def test_every_pattern_plays_alone(library):
    for pid in builtin_ids("patterns"):
        assert estimated(session_for_pattern(library.pattern(pid)), library, PlanOptions(side="right")).seconds > 60


def test_the_programme_orders_the_stages(library):
    progs = builtin_ids("programs")
    assert progs
    for pid in progs:
        prog = load_program(paths.builtin_scripts() / "programs" / f"{pid}.yaml", library=library)
        assert [st.session for st in prog.stages] == ["unlock", "reshape", "reinforce"]
        assert all(3 <= st.days <= 28 for st in prog.stages)
        assert prog.then == "daily"


# ------------------------------------------------------------------ the voice

def test_daily_is_spoken_at_100_to_125_words_per_minute_by_the_default_voice(library):
    """Measured on synthesized clips (what render plays) of a sample of daily's say cues."""
    from sisessions.voice.cache import Cache
    from sisessions.choices import DEFAULT_RATE
    from sisessions.voice.engines.base import get_engine
    from sisessions.voice.speech import Speech

    events = expand(library.session("daily"), library, PlanOptions(side="left"))
    texts = list(dict.fromkeys(e.text for e in events if e.kind == "say"))
    lines = [t for t in texts if len(t.split()) >= 6]
    sample = lines[:: max(1, len(lines) // 8)][:8]
    engine = get_engine(None)
    # one worker: starting a voice costs more than these few lines take to speak
    with Speech(engine.settings(None, DEFAULT_RATE), Cache(paths.cache_dir()), jobs=1) as speech:
        speech.ensure(sample)
        seconds = sum(speech.frames(t) for t in sample) / 22050
    words = sum(len(t.split()) for t in sample)
    wpm = words * 60 / seconds
    assert 100 <= wpm <= 125, f"{engine.name}: {wpm:.0f} words per minute over {len(sample)} cues"
