"""Spoken answers, confirmations and commands (play.listen), fed chunk by chunk to a listener
acting on a real session's controller (the recorded takes of tests/fixtures/spoken, in low room
noise, on the fake clock of the chunks): closed questions (`Listener.ask`: the side after the
check, the pain 0..10 after a session), the confirmation an ending command needs, and commands
acting on a playing session whose frames the test pulls. What only the real microphone shows
(no answer, a key answering first, a command while asking) is heard on the private PulseAudio."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sisessions import app
from sisessions.audio import RATE
from sisessions.play import listen
from sisessions.play.controls import Change
from sisessions.sources import tone
from sisessions.play.session import Ending, PlayOptions, Session
from sisessions.practice import log
from sisessions.plan.timeline import Kind
from tests.play.helpers import CHOICES, SCRIPTS, say, spoken, to16k

CHUNK = listen.MIC_RATE * listen.PERIOD_MS // 1000     # samples per capture chunk


@pytest.fixture
def session():
    """A real session of the `listen` fixture (program, feeder, controller), not playing."""
    prepared = app.prepare(app.open_library((str(SCRIPTS),)), "listen", CHOICES)
    with app.speech_session(CHOICES, None) as speech:
        yield Session(prepared, speech, PlayOptions(listen=True), "listen")


def in_a_silence(s: Session) -> int:
    """Put the feeder in the first long silence of the session; returns that event's index."""
    i = next(i for i, e in enumerate(s.program.events) if e.kind == Kind.PAUSE and i > s.program.first)
    s.feeder.seek(i)
    assert s.controller.quiet() and not s.controller.paused
    return i


class Mic:
    """Feeds a listener 100 ms chunks on a clock of its own: low room noise, and recorded takes.
    With `output` (the session's mixer), each chunk is also 100 ms of sound pulled by the test
    as the audio thread would, then a turn of the session loop (controller.pump)."""

    def __init__(self, listener: listen.Listener):
        self.listener = listener
        self.now = 1000.0
        self.rng = np.random.default_rng(9)
        self.output = None
        self.said_at = None      # self.now when the last word said had been spoken
        self.heard_at = None     # ... and when the last phrase was acted on

    def quiet(self, seconds: float) -> list[str]:
        return self._feed(np.zeros(int(seconds * listen.MIC_RATE)))

    def say(self, word: str) -> list[str]:
        said = np.frombuffer(to16k(spoken(word)), dtype="<i2").astype(np.float64)
        self.said_at = self.now + (listen.MIC_RATE // 2 + len(said)) / listen.MIC_RATE
        return self._feed(np.concatenate([np.zeros(listen.MIC_RATE // 2), said, np.zeros(listen.MIC_RATE)]))

    def _feed(self, x) -> list[str]:
        x = x + self.rng.standard_normal(len(x)) * 30
        pcm = np.clip(x, -32768, 32767).astype("<i2").tobytes()
        heard = []
        for i in range(0, len(pcm), 2 * CHUNK):
            self.now += listen.PERIOD_MS / 1000
            if self.output is not None:
                self.output.read(RATE * listen.PERIOD_MS // 1000)
                self.listener.controller.pump()
            if (w := self.listener.step(pcm[i: i + 2 * CHUNK], self.now)) is not None:
                self.heard_at = self.now
                heard.append(w)
        return heard


@pytest.fixture(scope="module")
def loaded():
    """One recogniser for the module's listeners (loading its model takes a second)."""
    return listen.Spotter()


@pytest.fixture
def spotter(loaded, monkeypatch):
    """The loaded recogniser, started afresh, for the next Listener made."""
    loaded.use("commands")
    loaded.reset()
    monkeypatch.setattr(listen, "Spotter", lambda phrases=None: loaded)
    return loaded


@pytest.fixture
def spoken_to(session, spotter):
    """A listener on the session's controller with the tone and the spoken questions mixed in
    (the espeak voice's), and its microphone."""
    mixer = tone.ToneMix(session.feeder)
    listener = listen.Listener(session.controller, mixer)
    listener.prompts.update(listen._prompt_samples(session.speech))
    assert set(listener.prompts) == set(listen.PROMPTS)
    return listener, Mic(listener)


@pytest.mark.parametrize("word", ["stop", "next", "skip", "back"])
def test_an_ending_command_heard_alone_never_ends_or_skips_it_pauses_asks_and_goes_on(session, spoken_to, word):
    # what a confusion looks like to the listener: one ending command heard, nothing after
    listener, mic = spoken_to
    where = in_a_silence(session)
    assert mic.quiet(1) == [] and mic.say(word) == [word]
    c = session.controller
    assert c.paused and not c.stopped and session.feeder.where()[0] == where
    assert listener.mixer.ringing                           # the question is being said
    news = listener.news()
    assert f'heard "{word}"' in news and any(n.startswith("say yes to ") for n in news)
    assert mic.quiet(listen.CONFIRM_WAIT + 5) == []         # no "yes": it goes on where it was
    assert not c.paused and not c.stopped and session.feeder.where()[0] == where
    assert "no answer: going on" in listener.news()


def test_stop_then_yes_stops(session, spoken_to):
    listener, mic = spoken_to
    in_a_silence(session)
    assert mic.say("stop") == ["stop"]
    assert not session.controller.stopped
    heard = mic.quiet(3) + mic.say("yes")                   # after the question has been said
    assert heard == ["yes"] and session.controller.stopped


def test_back_then_yes_goes_back_and_plays_on(session, spoken_to):
    listener, mic = spoken_to
    where = in_a_silence(session)
    assert mic.say("back") == ["back"] and mic.quiet(3) + mic.say("yes") == ["yes"]
    assert session.feeder.where()[0] < where and not session.controller.paused


@pytest.mark.parametrize("answer", ["no", "continue"])
def test_stop_then_no_or_continue_goes_on_at_once(session, spoken_to, answer):
    listener, mic = spoken_to
    where = in_a_silence(session)
    assert mic.say("stop") == ["stop"] and mic.quiet(3) + mic.say(answer) == [answer]
    c = session.controller
    assert not c.stopped and not c.paused and session.feeder.where()[0] == where
    mic.quiet(2)
    mic.say("yes")                      # nothing is left to confirm: a late yes stops nothing
    assert not c.stopped


def test_another_ending_command_in_the_confirmation_is_asked_about_instead(session, spoken_to):
    # "next" heard, then (the person meant stop) "stop": the question is now about stopping
    listener, mic = spoken_to
    in_a_silence(session)
    assert mic.say("next") == ["next"] and mic.quiet(3) + mic.say("stop") == ["stop"]
    assert not session.controller.stopped and session.controller.paused
    assert "say yes to stop, or no to go on" in listener.news()
    assert mic.quiet(3) + mic.say("yes") == ["yes"] and session.controller.stopped


def test_yes_or_no_without_a_question_never_acts(session, spoken_to):
    # without a question "yes" is not listened for (it may be heard as "next", which only asks)
    listener, mic = spoken_to
    where = in_a_silence(session)
    mic.say("yes")
    mic.quiet(listen.CONFIRM_WAIT + 5)
    mic.say("no")
    mic.quiet(listen.CONFIRM_WAIT + 5)
    c = session.controller
    assert not c.stopped and not c.paused and session.feeder.where()[0] == where


def test_said_pause_holds_resume_goes_on_with_the_silence_left_and_stop_then_yes_ends_it_there(session, spoken_to):
    """Spoken commands acting on a playing session: the test pulls its sound (the fake clock is
    the frames pulled) and speaks into the listener in the silences, as a person would."""
    listener, mic = spoken_to
    s, c = session, session.controller
    for text in s.program.texts():                # every line loaded, as a warm cache gives them
        s.clips._voice(text)
    mic.output = listener.mixer
    lines = []
    c.subscribe(lambda e: lines.append(e.text) if e.change is Change.LINE else None)
    still = s.program.say_at["Lie still."][0]
    breathe = s.program.say_at["Breathe out."][0]
    s.feeder.seek(still)
    while not c.quiet():                          # "Lie still." said; its silence begins
        mic.quiet(0.1)
    assert lines == ["Lie still."]
    mic.quiet(1)
    assert mic.say("pause") == ["pause"] and c.paused
    index, offset = s.feeder.where()
    assert index == breathe - 1                   # heard in the silence, before the next line
    left = s.program.lengths[index] - offset      # of the silence, when it paused
    assert mic.quiet(3) == [] and s.feeder.where() == (index, offset)   # paused: the clock stands
    assert lines == ["Lie still."]
    assert mic.say("resume") == ["resume"] and not c.paused
    print(f"'resume' ended -> acted on {mic.heard_at - mic.said_at:.2f} s later")
    assert mic.heard_at - mic.said_at <= 1.0
    resumed = s.feeder.where()
    pulled = 0
    while s.feeder.where()[0] < breathe:          # the rest of the silence, then the next line
        listener.mixer.read(441)
        pulled += 441
    listener.mixer.read(441)                      # the line begins
    c.pump()
    assert lines == ["Lie still.", "Breathe out."]
    assert abs(pulled - (left - (resumed[1] - offset))) <= 441
    assert resumed[1] - offset <= RATE * 1.6      # what played of it while "resume" was said
    while not c.quiet():
        mic.quiet(0.1)
    mic.quiet(1)
    listener.news()                               # read: what follows is the stop's
    # "stop" alone only pauses and asks (a confusion must not end the session); "yes" ends it
    assert mic.say("stop") == ["stop"] and not c.stopped and c.paused
    news = listener.news()
    assert 'heard "stop"' in news and "say yes to stop, or no to go on" in news
    assert mic.quiet(3) + mic.say("yes") == ["yes"] and c.stopped
    assert 'heard "yes"' in listener.news()
    mic.quiet(2)
    assert "Rest now." not in lines
    outcome = s._outcome(Ending.STOPPED)
    assert outcome.pattern == "still" and not outcome.completed
    message = app.log_outcome(outcome)
    assert message.startswith("Stopped in Lying Still")
    [rec], warnings = log.read()
    assert warnings == [] and rec.completed is False and rec.stopped_in == "still"


# ---------------------------------------------------------------- closed questions, on the microphone


@pytest.fixture
def listening(mic, session, spotter):
    """A listener on the private PulseAudio microphone, the session paused (silent)."""
    session.controller.pause()
    listener = listen.Listener(session.controller, tone.ToneMix(session.feeder))
    listener.start()
    yield listener
    listener.close()


def answer_later(room, word: str, after: float = 1.0) -> threading.Thread:
    t = threading.Thread(target=lambda: (time.sleep(after), say(room, word)), daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("kind, word, value", [
    ("side", "left", "left"), ("side", "right", "right"), ("side", "same", "same"),
    ("pain", "zero", 0), ("pain", "seven", 7), ("pain", "ten", 10),
])
def test_ask_returns_the_spoken_answer(session, spoken_to, kind, word, value):
    # fed chunk by chunk (the real microphone answers a question end to end: test_check.py's
    # spoken answers, and the listening session's check-in in test_listen.py)
    listener, mic = spoken_to
    session.controller.pause()                  # silent: the microphone is heard

    def person():
        while listener.spotter.active != kind:  # the question stands: then it is answered
            mic.quiet(0.1)
        mic.say(word)

    t = threading.Thread(target=person, daemon=True)
    t.start()
    got = listener.ask(kind, 20)
    t.join(20)
    assert got == value
    assert f'heard "{word}"' in listener.news()
    assert not listener.controller.stopped


def test_ask_gives_none_when_nothing_is_said_or_a_key_answered(mic, listening):
    t0 = time.monotonic()
    assert listening.ask("pain", 1.5) is None
    assert 1.4 <= time.monotonic() - t0 < 4
    key = threading.Event()
    threading.Timer(0.5, key.set).start()
    t0 = time.monotonic()
    assert listening.ask("side", 20, cancel=key) is None
    assert time.monotonic() - t0 < 4


def test_while_asking_a_command_is_not_acted_on(mic, listening):
    # "stop" is not an answer: the question goes on (and the session is not asked to stop)
    t = answer_later(mic, "stop", 0.5)
    assert listening.ask("side", 4) is None
    t.join(10)
    assert not listening.controller.stopped
    with pytest.raises(ValueError):
        listening.ask("colour", 1)
