"""The check before a sided session and the check-in after it (SPEC §8), end to end: `play` on
a private PulseAudio server, answered through keys on a pseudo-terminal and, with --listen,
by spoken answers played into the private microphone; what was answered is read back from the
practice log as a person reading the file sees it."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import pytest

from sisessions.play.around import SAME
from sisessions.practice import log, settings
from tests.conftest import FIXTURES
from tests.test_listen import mic, room, say  # noqa: F401 (fixtures)
from tests.test_play import VOICE, Pty, child_env, pulse, server  # noqa: F401 (fixtures)

SCRIPTS = FIXTURES / "check"
QUESTION = "Which side felt deeper"
SIDE_KEYS = "l left, r right, s same"   # the status line while the side question stands
PAIN_KEYS = "pain now: 0-9"   # ... and while the check-in's does


def args(*extra) -> list[str]:
    return [sys.executable, "-m", "sisessions", "--scripts", str(SCRIPTS), "play", "sided", *VOICE, *extra]


def records() -> list[dict]:
    recs, warnings = log.read()
    assert warnings == []
    return [log.to_json(r) for r in recs]


def kinds(recs: list[dict]) -> list[str]:
    return [r["kind"] for r in recs]


def test_keys_answer_the_check_and_the_check_in(pulse):
    t = Pty(args=args())
    t.wait_for(QUESTION)
    t.wait_for(SIDE_KEYS, timeout=45)
    t.key("r")                                   # "right" while the question stands, not "repeat"
    t.wait_for("Sway to the right.")
    t.wait_for(PAIN_KEYS, timeout=30)
    t.key("4")
    assert t.finish(timeout=20) == 0
    screen = bytes(t.out).decode(errors="replace")
    assert "The right side today." in screen and "Sway to the left." not in screen
    check, play, pain = records()
    assert (check["kind"], check["result"]) == ("check", "right")
    assert (play["kind"], play["side"], play["completed"]) == ("play", "right", True)
    assert (pain["kind"], pain["pain"], pain["when"]) == ("pain", 4, "after")


def test_same_gives_the_advice_and_both_sides_and_t_is_ten(pulse):
    t = Pty(args=args())
    t.wait_for(SIDE_KEYS, timeout=45)
    t.key("s")
    for line in SAME:
        t.wait_for(line, timeout=30)
    t.wait_for("Sway to the left.")
    t.wait_for("Sway to the right.")
    t.wait_for(PAIN_KEYS, timeout=30)
    t.key("t")
    assert t.finish(timeout=20) == 0
    check, play, pain = records()
    assert check["result"] == "same" and play["side"] == "both" and pain["pain"] == 10


def test_today_s_check_is_not_asked_again_and_q_in_the_check_in_records_no_pain(pulse):
    log.append(log.check_record("left"))
    t = Pty(args=args())
    t.wait_for("Sway to the left.")
    t.wait_for(PAIN_KEYS, timeout=30)
    t.key("q")                                   # leaves the question: nothing recorded
    assert t.finish(timeout=10) == 0
    assert QUESTION.encode() not in t.out
    assert kinds(records()) == ["check", "play"]
    assert records()[1]["side"] == "left" and records()[1]["completed"] is True


def test_unanswered_the_saved_side_is_said_with_its_age_then_the_session_plays(pulse):
    log.append(log.check_record("left", when=dt.date.today() - dt.timedelta(days=3)))
    log_before = records()
    t = Pty(args=args())
    t.wait_for(SIDE_KEYS, timeout=45)
    asked = time.monotonic()
    t.wait_for("No answer to the check.", timeout=40)
    waited = time.monotonic() - asked
    print(f"the side question stood {waited:.1f} s")
    assert 29 <= waited <= 34
    t.wait_for("Today uses your left side, saved 3 days ago.", timeout=20)
    t.wait_for("Sway to the left.")
    t.wait_for(PAIN_KEYS, timeout=30)
    t.key("q")
    assert t.finish(timeout=10) == 0
    assert kinds(records()) == kinds(log_before) + ["play"]     # no answer: no check recorded


def test_a_run_nobody_can_answer_says_the_saved_side_and_does_not_wait(pulse):
    """A scheduled run (no terminal, no microphone): no check, no check-in, no 30 s waits."""
    log.append(log.check_record("right", when=dt.date.today() - dt.timedelta(days=2)))
    started = time.monotonic()
    proc = subprocess.run(args(), env=child_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert '"Today uses your right side, saved 2 days ago.' in proc.stdout
    assert '"Sway to the right."' in proc.stdout and QUESTION not in proc.stdout
    assert "How is the pain" not in proc.stdout
    assert took < 25, took
    assert kinds(records()) == ["check", "play"] and records()[1]["side"] == "right"


def test_no_saved_side_and_nobody_to_ask_plays_both_sides(pulse):
    proc = subprocess.run(args(), env=child_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert '"Sway to the left."' in proc.stdout and '"Sway to the right."' in proc.stdout
    assert records()[0]["side"] == "both"


def test_no_check_without_a_side_is_the_users_mistake(pulse):
    proc = subprocess.run(args("--no-check"), env=child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "sisessions play check" in proc.stderr and "--side left" in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert records() == []


def test_no_check_with_a_saved_side_plays_it_at_once(pulse):
    settings.save_side("left")
    t = Pty(args=args("--no-check"))
    t.wait_for("Sway to the left.")
    assert QUESTION.encode() not in t.out
    t.wait_for(PAIN_KEYS, timeout=30)
    t.key("2")
    assert t.finish(timeout=10) == 0
    assert [(r["kind"], r.get("pain")) for r in records()] == [("play", None), ("pain", 2)]


def test_spoken_answers_to_the_check_and_the_check_in(mic):
    t = Pty(args=args("--listen"))
    t.wait_for(SIDE_KEYS, timeout=45)
    t.wait_for("listening", timeout=10)
    say(mic, "left")
    t.wait_for("Sway to the left.", timeout=20)
    t.wait_for(PAIN_KEYS, timeout=30)
    time.sleep(1.0)                               # the question's echo tail
    say(mic, "seven")
    assert t.finish(timeout=30) == 0
    screen = bytes(t.out).decode(errors="replace")
    assert 'heard "left"' in screen and 'heard "seven"' in screen
    check, play, pain = records()
    assert check["result"] == "left" and play["side"] == "left"
    assert (pain["pain"], pain["when"]) == (7, "after")
