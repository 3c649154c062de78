"""The built-in library: every file valid, the sessions the issue asks for, and the pacing rules.

How a repetition's phases are found (the rule the silence minimums are checked against):
a repetition is the body of a `repeat` block. Every `say` in it opens a *phase* that runs
until the next `say`; the phase's silence is the sum of its `pause` steps (spoken breath
cues are not silence). The opening cue names the phase:
  - rest:     the cue starts with "Rest" (or "And rest", "Now rest")     -> >= 10 s
  - release:  the cue says "more slowly" or "slower" (the rhythm's own words: release
              even more slowly than you tightened)                         -> >= 8 s
  - movement: any other cue (tighten, arch, lift, curl, slide, shift...)   -> >= 5 s
Every repetition ends with a rest, so there are >= 10 s between repetitions. A pattern
with a release phase is a pandiculation: each repetition is (movement+ release)+ then rest.
The one exception is the towel-and-wall rock: the routine is one continuous slow rock,
back and forward ten times, with no rest in between.
"""
from __future__ import annotations

import re

import pytest

from sisessions import paths
from sisessions.plan.timeline import PlanOptions, estimated, expand
from sisessions.plan.validate import validate
from sisessions.script.library import Library
from sisessions.script.load import load_program, session_for_pattern
from sisessions.script.model import Breathe, Pause, Repeat, Say

MIN_MOVE, MIN_RELEASE, MIN_REST = 5.0, 8.0, 10.0
CONTINUOUS = {"towel-wall-rock"}  # one flowing rock: no rest between repetitions (see above)
STANDING = {"towel-wall-rock", "weight-shifts", "slow-walking"}
AROUND = {"arrive", "self-check", "stand-up-slowly"}  # opening, checking and closing parts
SESSIONS = {"check", "towel", "unlock", "reshape", "reinforce", "daily"}
REQUIRED_PATTERNS = {
    "self-check": None, "towel-wall-rock": "unlock", "gentle-spine-waves": "unlock",
    "arch-and-flatten": "unlock", "leg-slides": "unlock", "psoas-release": "unlock",
    "arch-and-curl": "reshape", "side-bend": "reshape", "back-lift": "reshape",
    "washrag": "reshape", "weight-shifts": "reinforce", "slow-walking": "reinforce",
}
MAX_SENTENCE_WORDS = 20  # short sentences: one instruction at a time
REST_RE = re.compile(r"^(and |now )?rest\b", re.I)
RELEASE_RE = re.compile(r"\bmore slowly\b|\bslower\b", re.I)


@pytest.fixture(scope="module")
def library():
    return Library([paths.builtin_scripts()])


def builtin_ids(kind: str) -> list[str]:
    return sorted(p.stem for p in (paths.builtin_scripts() / kind).glob("*.yaml"))


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


def phase_kind(cue: str) -> str:
    if REST_RE.match(cue):
        return "rest"
    return "release" if RELEASE_RE.search(cue) else "move"


def phases(body) -> list[tuple[str, str, float]]:
    """(kind, cue, seconds of silence) for each phase of one repetition."""
    out: list[list] = []
    for st in body:
        if isinstance(st, Say):
            out.append([phase_kind(st.text), st.text, 0.0])
        elif isinstance(st, Pause):
            assert out, f"a repetition should open with a spoken cue, not a pause (line {st.loc.line})"
            out[-1][2] += st.seconds
        elif isinstance(st, (Repeat, Breathe)):
            assert not isinstance(st, Repeat), "no nested repeats in the built-in library"
    return [tuple(p) for p in out]


MINIMUM = {"move": MIN_MOVE, "release": MIN_RELEASE, "rest": MIN_REST}


# ------------------------------------------------------------------ the files

def test_every_builtin_file_validates(library):
    n, problems = validate(library)
    assert problems == []
    assert n == len(builtin_ids("patterns")) + len(builtin_ids("sessions")) + len(builtin_ids("programs"))


def test_the_patterns_and_sessions_the_issue_asks_for(library):
    pids = set(builtin_ids("patterns"))
    assert len(pids) >= 12
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
def test_default_repetitions_are_three_to_ten(library, pid):
    p = library.pattern(pid)
    for r in repeats(p.steps):
        times = r.times or p.repetitions
        assert times is not None and 2 <= times <= 10, (pid, times)
        if r.times is None:
            assert 3 <= p.repetitions <= 10, pid


# ------------------------------------------------------------------ pacing

@pytest.mark.parametrize("pid", builtin_ids("patterns"))
def test_silence_minimums_of_every_repetition(library, pid):
    p = library.pattern(pid)
    for r in repeats(p.steps):
        ph = phases(r.steps)
        for kind, cue, seconds in ph:
            assert seconds >= MINIMUM[kind], f"{pid}: {kind} phase '{cue}' has {seconds:g} s of silence"
        kinds = [k for k, _, _ in ph]
        if pid in CONTINUOUS:
            assert "rest" not in kinds and "release" not in kinds
            continue
        assert kinds[-1] == "rest", f"{pid}: a repetition must end with a rest of >= {MIN_REST:g} s"
        assert kinds.count("rest") == 1, pid
        if "release" in kinds:  # pandiculation: every movement is released before the rest
            assert re.fullmatch(r"(m+r)+R", "".join({"move": "m", "release": "r", "rest": "R"}[k]
                                                      for k in kinds)), (pid, kinds)


def test_every_pandiculation_pattern_releases_more_slowly_than_it_moves(library):
    pandiculations = 0
    for pid in builtin_ids("patterns"):
        for r in repeats(library.pattern(pid).steps):
            ph = phases(r.steps)
            for (k1, _, move), (k2, _, release) in zip(ph, ph[1:]):
                if k1 == "move" and k2 == "release":
                    pandiculations += 1
                    assert release > move, pid
    assert pandiculations >= 9


def cue_minimums(library: Library, side: str) -> dict[tuple[str, str], float]:
    """(pattern, cue text as spoken) -> the silence its phase needs."""
    out = {}
    for pid in builtin_ids("patterns"):
        for r in repeats(library.pattern(pid).steps):
            for kind, cue, _ in phases(r.steps):
                spoken = cue.replace("{side}", side).replace("{other_side}",
                                                               "right" if side == "left" else "left")
                out[(pid, spoken)] = MINIMUM[kind]
    return out


def planned_phases(events, minimums):
    """(pattern, cue, silence) of every phase found in a planned event stream."""
    current = None
    for ev in events:
        if ev.kind == "pause" and current is not None:
            current[2] += ev.seconds
            continue
        if current is not None:
            yield tuple(current)
            current = None
        if ev.kind == "say" and (ev.pattern, ev.text) in minimums:
            current = [ev.pattern, ev.text, 0.0]
    if current is not None:
        yield tuple(current)


@pytest.mark.parametrize("sid", sorted(SESSIONS))
def test_minimums_hold_in_the_plan_also_when_fitted_to_the_shortest(library, sid):
    from sisessions.plan.fit import REPS, SILENCE

    session = library.session(sid)
    minimums = cue_minimums(library, "left")
    for opts in (PlanOptions(side="left"),
                 PlanOptions(side="left", reps_scale=REPS[0], silence_scale=SILENCE[0])):
        found = list(planned_phases(expand(session, library, opts), minimums))
        assert found or sid == "towel" or sid == "check"
        for pid, cue, seconds in found:
            assert seconds >= minimums[(pid, cue)] - 1e-9, (sid, pid, cue, seconds)


# ------------------------------------------------------------------ the words

@pytest.mark.parametrize("pid", builtin_ids("patterns"))
def test_sentences_are_short(library, pid):
    for text in says(library.pattern(pid).steps):
        for sentence in re.split(r"(?<=[.?!])\s+", text):
            assert len(sentence.split()) <= MAX_SENTENCE_WORDS, (pid, sentence)


def test_the_rules_the_voice_repeats_are_said(library):
    spoken = " ".join(t for pid in builtin_ids("patterns") for t in says(library.pattern(pid).steps)).lower()
    assert "cringe" in spoken and "later day" in spoken        # skip it, come back later (--skip)
    assert "never push into pain" in spoken
    assert "no hurry" in spoken
    assert spoken.count("slowly") >= 40


# ------------------------------------------------------------------ the sessions

@pytest.mark.parametrize("sid", sorted(SESSIONS))
def test_each_session_opens_calmly_and_ends_standing(library, sid):
    s = library.session(sid)
    assert s.intro and s.outro
    items = [it.pattern for it in s.items]
    floor = [i for i, p in enumerate(items) if p not in STANDING and p != "stand-up-slowly"]
    if floor:  # after the last floor pattern comes the slow way up
        assert "stand-up-slowly" in items[floor[-1] + 1:], sid
    else:
        assert set(items) <= STANDING, sid


def test_the_check_session_says_how_to_save_the_side(library):
    s = library.session("check")
    assert [it.pattern for it in s.items][0] == "self-check"
    outro = s.outro.lower()
    assert "side set left" in outro and "side set right" in outro
    assert "s i sessions" in outro  # spelled so that a listener can type it


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
    assert 4.5 * 60 <= seconds <= 6 * 60


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
