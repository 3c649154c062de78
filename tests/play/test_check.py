"""The check before a sided session and the check-in after it (SPEC §8).

Most of it is played in this process on a fake clock: the session loop's waits pull the frames
the output would (the test is the audio thread) and the person presses a key on a real
pseudo-terminal when a question stands, so every step is deterministic and a 30 s question
takes no 30 s. A few plays are end to end on a private PulseAudio server (the command line
answered through keys on a pseudo-terminal, by spoken answers played into the private
microphone, and a question left unanswered); what was answered is read back from the practice
log as a person reading the file sees it."""
from __future__ import annotations

import datetime as dt
import io
import os
import pty
import subprocess
import sys
import time

from click.testing import CliRunner

from sisessions import app
from sisessions.audio import RATE
from sisessions.play.around import ASK_SECONDS, SAME
from sisessions.play.controls import Change
from sisessions.play.device import Player
from sisessions.play.session import Clock, PlayOptions, Session
from sisessions.practice import log, settings
from tests.conftest import FIXTURES
from tests.play.helpers import SAFETY_START, VOICE, Pty, child_env, say

SCRIPTS = FIXTURES / "check"
CHOICES = app.Choices(engine="espeak", rate=200)
QUESTION = "Which side felt deeper"
SIDE_KEYS = "l left, r right, s same"   # the status line while the side question stands
PAIN_KEYS = "pain now: 0-9"   # ... and while the check-in's does
FROM = ("--from", "sway")     # the end-to-end plays skip the session's safety lines (13 s of them)


def args(*extra) -> list[str]:
    return [sys.executable, "-m", "sisessions", "--scripts", str(SCRIPTS), "play", "sided", *VOICE, *extra]


def records() -> list[dict]:
    recs, warnings = log.read()
    assert warnings == []
    return [log.to_json(r) for r in recs]


def kinds(recs: list[dict]) -> list[str]:
    return [r["kind"] for r in recs]


# ---------------------------------------------------------------- in this process, on a fake clock


class Pulled(Player):
    """The output, played by the test: the fake clock pulls its frames."""

    name = "pulled"
    latency = 0.0
    source = None

    def start(self, source) -> None:
        self.source = source


class Person(Clock):
    """A fake clock whose every wait is the audio thread pulling that much sound, and a person
    at the terminal who presses `keys[kind]` when the question of that kind stands."""

    def __init__(self, keys: dict[str, str], master: int | None):
        self.t = 0.0
        self.keys = dict(keys)
        self.master = master
        self.player = Pulled()
        self.session: Session | None = None

    def now(self) -> float:
        return self.t

    def wait(self, seconds: float, keys) -> str:
        self.t += seconds
        if self.player.source is not None:
            if self.session.part.feeder.waiting:
                time.sleep(0.005)          # the voice threads load a clip: let them
            self.player.source.read(round(seconds * RATE))
        question = self.session.controller.question
        if keys is not None and question in self.keys:
            os.write(self.master, self.keys.pop(question).encode())
            return keys.read(5.0)          # the key, through the terminal
        return ""


class Played:
    """What a play in this process left: its closing sentence, its plain lines, and every
    change the controller told, with the fake time it was told at."""

    def __init__(self, message: str, screen: str, told: list[tuple[float, Change, str | None]]):
        self.message, self.screen, self.told = message, screen, told

    def said(self) -> list[str]:
        return [text for _, change, text in self.told if change is Change.LINE]

    def asked(self) -> list[tuple[float, str]]:
        return [(t, text) for t, change, text in self.told if change is Change.ASKED]

    def stood(self) -> list[float]:
        """How long each question stood, on the fake clock."""
        starts = [t for t, change, _ in self.told if change is Change.ASKED]
        ends = [t for t, change, _ in self.told if change is Change.ANSWERED]
        return [b - a for a, b in zip(starts, ends)]


def play_here(keys: dict[str, str] | None = None, terminal: bool = True, no_check: bool = False) -> Played:
    """`play sided` as the command line runs it (check_wanted, prepare, around, play_and_log),
    its keys from a pseudo-terminal (or none) and its lines to a plain text stream."""
    library = app.open_library((str(SCRIPTS),))
    asks = not no_check and app.check_wanted(library, "sided", CHOICES)
    prepared = app.prepare(library, "sided", CHOICES, unattended=True) if asks else app.prepare(
        library, "sided", CHOICES)
    around = app.around(library, "sided", CHOICES, asks)
    master, slave = pty.openpty() if terminal else (None, None)
    keys_from = os.fdopen(slave, "r") if terminal else io.StringIO()
    person = Person(keys or {}, master)
    out = io.StringIO()
    told: list = []
    try:
        with app.speech_session(CHOICES, None) as speech:
            session = Session(prepared, speech, PlayOptions(), "sided", out=out,   # questions stand 30 s
                              keys_from=keys_from, around=around, clock=person)
            person.session = session
            session.controller.subscribe(lambda e: told.append((person.t, e.change, e.text)))
            message = app.log_outcome(session.run(person.player))
    finally:
        keys_from.close()
        if master is not None:
            os.close(master)
    return Played(message, out.getvalue(), told)


def test_same_gives_the_advice_and_both_sides_and_t_is_ten():
    played = play_here({"side": "s", "pain": "t"})
    said = played.said()
    assert [kind for _, kind in played.asked()] == ["side", "pain"]
    after = said[said.index(next(s for s in said if s.startswith(QUESTION))) + 1:]
    assert after[:len(SAME)] == list(SAME)                   # the advice, whole and in order
    assert "Sway to the left." in after and "Sway to the right." in after
    assert played.message.startswith("Done: Sided Test Session")
    check, play, pain = records()
    assert check["result"] == "same" and play["side"] == "both" and play["completed"] is True
    assert (pain["pain"], pain["when"]) == (10, "after")


def test_today_s_check_is_not_asked_again_and_q_in_the_check_in_records_no_pain():
    log.append(log.check_record("left"))
    played = play_here({"pain": "q"})                     # q leaves the question: nothing recorded
    assert [kind for _, kind in played.asked()] == ["pain"]
    assert not any(s.startswith(QUESTION) for s in played.said()) and QUESTION not in played.screen
    assert "Sway to the left." in played.said() and "Sway to the right." not in played.said()
    assert kinds(records()) == ["check", "play"]
    assert records()[1]["side"] == "left" and records()[1]["completed"] is True


def test_unanswered_the_question_stands_30_s_the_saved_side_is_said_with_its_age_then_it_plays():
    assert ASK_SECONDS == 30.0
    log.append(log.check_record("left", when=dt.date.today() - dt.timedelta(days=3)))
    log_before = records()
    played = play_here({"pain": "q"})
    (asked, kind), _ = played.asked()
    assert kind == "side"
    stood = played.stood()[0]
    print(f"the side question stood {stood:.2f} s on the fake clock")
    assert abs(stood - ASK_SECONDS) < 0.15
    said = played.said()
    after = said[said.index(next(s for s in said if s.startswith(QUESTION))) + 1:]
    assert after[0] == "No answer to the check."
    assert "Today uses your left side, saved 3 days ago. A check before practice would confirm it." in after
    assert after.index("Sway to the left.") > after.index("No answer to the check.")
    assert "Sway to the right." not in after
    assert kinds(records()) == kinds(log_before) + ["play"]     # no answer: no check recorded


def test_a_run_nobody_can_answer_says_the_saved_side_and_does_not_wait():
    """A scheduled run (no terminal, no microphone): no check, no check-in, no 30 s waits."""
    log.append(log.check_record("right", when=dt.date.today() - dt.timedelta(days=2)))
    played = play_here(terminal=False)
    assert played.asked() == []                            # nothing stood: nothing waited for
    said = played.said()
    assert "Today uses your right side, saved 2 days ago. A check before practice would confirm it." in said
    assert "Sway to the right." in said and "Sway to the left." not in said
    assert not any(s.startswith(QUESTION) or s.startswith("How is the pain") for s in said)
    assert '"Sway to the right."' in played.screen and "How is the pain" not in played.screen
    assert kinds(records()) == ["check", "play"] and records()[1]["side"] == "right"


def test_no_saved_side_and_nobody_to_ask_plays_both_sides():
    played = play_here(terminal=False)
    said = played.said()
    assert "No side is known, so today each side is done evenly." in said
    assert "Sway to the left." in said and "Sway to the right." in said
    assert played.asked() == []
    assert kinds(records()) == ["play"] and records()[0]["side"] == "both"


def test_no_check_with_a_saved_side_plays_it_at_once():
    settings.save_side("left")
    played = play_here({"pain": "2"}, no_check=True)
    assert [kind for _, kind in played.asked()] == ["pain"]
    assert not any(s.startswith(QUESTION) for s in played.said())
    assert played.said().count("Sway to the left.") == 1 and "Sway to the right." not in played.said()
    assert [(r["kind"], r.get("pain")) for r in records()] == [("play", None), ("pain", 2)]


def test_the_command_line_lets_a_question_stand_30_s(monkeypatch):
    """The short waits of the tests are theirs: `play` itself asks with the default."""
    seen = []

    def play_and_log(prepared, speech, options, name, debug=False, around=None):
        seen.append((options, around))
        return "played"

    monkeypatch.setattr(app, "play_and_log", play_and_log)
    result = CliRunner().invoke(app_main(), ["--scripts", str(SCRIPTS), "play", "sided", *VOICE])
    assert result.exit_code == 0, result.output
    [(options, around)] = seen
    assert options.ask_seconds == ASK_SECONDS == 30.0
    assert around.check is not None and around.check_in       # the check is asked, then the check-in
    assert PlayOptions().ask_seconds == ASK_SECONDS


def app_main():
    from sisessions.cli import main

    return main


# ---------------------------------------------------------------- end to end, on the private PulseAudio


def test_keys_answer_the_check_and_the_check_in(pulse):
    t = Pty(args=args(*FROM))
    t.wait_for(SAFETY_START, timeout=60)
    t.key("n")                                   # the check's own safety lines: on to the check
    t.wait_for(QUESTION, timeout=60)
    t.wait_for(SIDE_KEYS, timeout=60)
    t.key("r")                                   # "right" while the question stands, not "repeat"
    t.wait_for("Sway to the right.", timeout=60)
    t.wait_for(PAIN_KEYS, timeout=60)
    t.key("4")
    assert t.finish(timeout=60) == 0
    screen = bytes(t.out).decode(errors="replace")
    assert "The right side today." in screen and "Sway to the left." not in screen
    check, play, pain = records()
    assert (check["kind"], check["result"]) == ("check", "right")
    assert (play["kind"], play["side"], play["completed"]) == ("play", "right", True)
    assert (pain["kind"], pain["pain"], pain["when"]) == ("pain", 4, "after")


def test_spoken_answers_to_the_check_and_the_check_in(mic):
    t = Pty(args=args("--listen", *FROM))
    t.wait_for(SAFETY_START, timeout=60)
    t.key("n")                                   # the check's own safety lines: on to the check
    t.wait_for(SIDE_KEYS, timeout=60)
    t.wait_for("listening", timeout=30)
    say(mic, "left")
    t.wait_for("Sway to the left.", timeout=60)
    t.wait_for(PAIN_KEYS, timeout=60)
    time.sleep(1.0)                               # the question's echo tail
    say(mic, "seven")
    assert t.finish(timeout=60) == 0
    screen = bytes(t.out).decode(errors="replace")
    assert 'heard "left"' in screen and 'heard "seven"' in screen
    check, play, pain = records()
    assert check["result"] == "left" and play["side"] == "left"
    assert (pain["pain"], pain["when"]) == (7, "after")


ASK_HERE = 3.0   # seconds a question stands in the real-time play below (the product's: 30)


def test_an_unanswered_check_in_stands_its_time_on_the_real_output_and_records_no_pain(pulse):
    """In real time, on the private PulseAudio, with a terminal nobody types on: the check-in's
    question stands its time (here ASK_HERE), then the play ends; nothing answered is nothing
    recorded. (The check's own unanswered question, which is the same wait, is played above on
    the fake clock with its full 30 s.)"""
    library = app.open_library((str(SCRIPTS),))
    choices = app.Choices(engine="espeak", rate=200, side="left")
    assert not app.check_wanted(library, "sided", choices)
    prepared = app.prepare(library, "sided", choices)
    around = app.around(library, "sided", choices, False)
    master, slave = pty.openpty()
    keys_from = os.fdopen(slave, "r")
    told = []
    out = io.StringIO()
    try:
        with app.speech_session(choices, None) as speech:
            session = Session(prepared, speech, PlayOptions(ask_seconds=ASK_HERE, start_at="sway"), "sided",
                              out=out, keys_from=keys_from, around=around)
            session.controller.subscribe(lambda e: told.append((time.monotonic(), e.change, e.text)))
            started = time.monotonic()
            message = app.log_outcome(session.run())
            ended = time.monotonic()
    finally:
        keys_from.close()
        os.close(master)
    assert message.startswith("Done: Sided Test Session")
    [(asked, kind)] = [(t, text) for t, change, text in told if change is Change.ASKED]
    [(answered, answer)] = [(t, text) for t, change, text in told if change is Change.ANSWERED]
    assert kind == "pain" and answer == ""
    print(f"the check-in stood {answered - asked:.2f} s (its time {ASK_HERE} s); "
          f"the play took {ended - started:.1f} s")
    assert ASK_HERE - 0.05 <= answered - asked <= ASK_HERE + 1.5
    assert ended - answered < 3.0                       # then the play ends, not another wait
    lines = [text for t, change, text in told if change is Change.LINE and t < asked]
    assert lines[0] == "Sway to the left." and lines[-1].startswith("Press a number key")
    assert '"How is the pain now, from zero to ten?"' in out.getvalue()
    assert [(r["kind"], r["side"], r["completed"]) for r in records()] == [("play", "left", True)]


def test_no_check_without_a_side_is_the_users_mistake(pulse):
    proc = subprocess.run(args("--no-check"), env=child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "sisessions play check" in proc.stderr and "--side left" in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert records() == []
