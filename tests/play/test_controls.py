"""The controller's read side and commands, without sound: frames are pulled from the feeder
by the test (the frame count is the clock), so every step is deterministic and fast. Keys,
MPRIS's mapping and the questions are checked against `now()` and the change events."""
from __future__ import annotations

import threading

from sisessions import app
from sisessions.play import keys, mpris
from sisessions.play.controls import Change, Command, Controller, Phase
from sisessions.play.feeder import FADE_FRAMES, Feeder
from sisessions.play.prefetch import Clips
from sisessions.play.program import Program
from tests.play.helpers import CHOICES

# the `voiced` and `play` fixtures are in tests/play/conftest.py (test_mpris uses them too)


def pull(c: Controller, f: Feeder, frames: int, step: int = 441) -> None:
    """The audio thread's reads, then one turn of the session loop."""
    while frames > 0:
        f.read(min(step, frames))
        frames -= step
    c.pump()


def changes(told, *kinds):
    return [(e.change, e.text if e.change is not Change.ITEM else e.item.title) for e in told
            if not kinds or e.change in kinds]


def test_items_are_named_once_for_every_frontend(play):
    c, f, _ = play(delay=2.0)
    p = c.p
    titles = [p.item_at(i).title if p.item_at(i) else None for i in range(len(p.events) + 1)]
    reach, roll = p.blocks
    assert titles[0] == "Starting soon"
    assert titles[p.first] == "Opening"                       # the safety line
    assert titles[reach.start] == "Slow Reach" and titles[roll.start] == "Knee Roll"
    assert titles[reach.end] == "Rest"
    assert titles[len(p.events)] is None
    assert {p.item_at(i).key for i in range(reach.start, reach.end)} == {"item1"}


def test_now_follows_the_frames_pulled_and_events_arrive_in_order(play):
    c, f, told = play(delay=1.0)
    n = c.now()
    assert (n.phase, n.item.title, n.position, n.preroll_left) == (Phase.PREROLL, "Starting soon", 0, 22050)
    pull(c, f, 11025)
    assert c.now().preroll_left == 11025 and c.now().phase is Phase.PREROLL
    pull(c, f, 11025 + 2205)
    n = c.now()
    # a tenth of a second into the session, of which the output still holds the latency
    assert n.phase is Phase.PLAYING and n.item.title == "Opening"
    assert n.position == 0  # 2205 frames taken, 3307 still queued: nothing heard yet
    pull(c, f, 22050)
    assert c.latency_frames == int(0.15 * 22050)     # as the fixture makes it
    assert c.now().position == 2205 + 22050 - c.latency_frames
    assert c.now().line == c.p.events[c.p.first].text
    pull(c, f, c.p.total)
    n = c.now()
    assert n.phase is Phase.FINISHED and n.item is None and not n.live and not n.can_next
    said = [e.text for e in c.p.events if e.kind == "say"]
    assert changes(told, Change.LINE) == [(Change.LINE, t) for t in said]
    assert [t for _, t in changes(told, Change.ITEM)] == [
        "Starting soon", "Opening", "Slow Reach", "Rest", "Knee Roll"]   # no closing part here
    assert told[-1].change is Change.FINISHED


def test_commands_from_keys_move_the_frames_and_are_told(play):
    c, f, told = play()
    pull(c, f, 4410)
    keys.handle("n", c)                 # from the opening to the first pattern, at once
    n = c.now()
    assert n.item.title == "Slow Reach" and n.item_position == 0
    assert told[-1].change is Change.JUMPED and told[-1].now.item.title == "Slow Reach"
    pull(c, f, 4410)
    keys.handle(" ", c)
    assert c.now().paused and told[-1].change is Change.PAUSED
    before = c.now().position
    pull(c, f, 22050)
    assert c.now().position == before    # paused: the clock stands
    keys.handle(" ", c)
    assert told[-1].change is Change.RESUMED
    keys.handle("N", c)
    assert c.now().item.title == "Knee Roll"
    keys.handle("b", c)
    assert c.now().item.title == "Knee Roll" and c.now().item_position == 0
    keys.handle("x", c)                 # not a key of ours: nothing
    assert told[-1].change is Change.JUMPED
    keys.handle("q", c)
    assert c.now().phase is Phase.STOPPED and told[-1].change is Change.STOPPED
    f.read(FADE_FRAMES)                  # the 10 ms fade of the cut, then silence
    assert f.read(1000) == bytes(2000)


def test_every_input_names_the_same_commands():
    from sisessions.play.listen import PHRASES

    assert set(keys.KEYS.values()) <= set(Command)
    assert set(mpris.METHODS.values()) <= set(Command)
    assert {Command(action) for action, _ in PHRASES.values()} == {
        Command.PAUSE, Command.RESUME, Command.NEXT, Command.BACK, Command.REPEAT, Command.STOP}


def test_mpris_properties_are_a_view_of_now(play):
    c, f, _ = play()
    pull(c, f, 2205)
    props = mpris.properties(c.now(), "Short Test Session", "file:///cover.png")
    md = props["Metadata"]
    assert props["PlaybackStatus"] == "Playing" and props["CanGoNext"] is True
    assert md["xesam:title"] == ("s", "Opening") and md["mpris:trackid"] == ("o", f"{mpris.TRACK_PATH}/gap0")
    assert md["mpris:length"] == ("x", mpris.us(c.now().item_length))
    assert md["mpris:artUrl"] == ("s", "file:///cover.png")
    c.do(mpris.METHODS["Next"])
    c.do(mpris.METHODS["Pause"])
    props = mpris.properties(c.now(), "x")
    assert props["PlaybackStatus"] == "Paused"
    assert props["Metadata"]["xesam:title"] == ("s", "Slow Reach")
    assert props["Metadata"]["mpris:trackid"] == ("o", f"{mpris.TRACK_PATH}/item1")
    c.do(mpris.METHODS["Stop"])
    props = mpris.properties(c.now(), "x")
    assert props["PlaybackStatus"] == "Stopped" and props["CanPlay"] is False
    assert props["CanGoNext"] is False


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_question_takes_its_keys_first_and_times_out_on_a_fake_clock(play):
    c, f, told = play()
    clock = FakeClock()
    presses = iter(["r", "x", "s"])

    def wait(seconds):            # the session loop: a key each turn, and time goes on
        clock.t += seconds
        ch = next(presses, "")
        if ch:
            keys.handle(ch, c)

    assert c.ask("side", 30, clock, wait) == "right"   # "r" is right while the question stands
    assert c.question is None and c.now().phase is Phase.PLAYING
    assert changes(told, Change.ASKED, Change.ANSWERED) == [(Change.ASKED, "side"), (Change.ANSWERED, "right")]
    assert not c.f.paused and c.f.last_say is None      # the key did not repeat a line

    clock.t = 0.0
    ticks = []

    def idle(seconds):
        ticks.append(seconds)
        clock.t += seconds

    assert c.ask("pain", 30, clock, idle) is None        # nobody answered: nothing
    assert 29.9 <= sum(ticks) <= 30.1
    # digits answer the pain question; a key of the other question is no answer
    presses = iter(["l", "7"])
    assert c.ask("pain", 30, clock, wait) == "7"
    presses = iter(["t"])
    assert c.ask("pain", 30, clock, wait) == "10"
    assert c.answer("pain", "3") is False                # no question stands now


def test_an_answer_from_another_thread_and_stop_end_the_question(play):
    c, _, _ = play()
    threading.Timer(0.05, c.answer, ("side", "same")).start()
    assert c.ask("side", 5) == "same"
    threading.Timer(0.05, c.stop).start()
    assert c.ask("pain", 5) is None and c.stopped


def test_volume_is_a_gain_on_what_the_output_pulls_ramped_over_one_read(voiced):
    """Two plays of the same frames, one through the relay at half volume: each sample after
    the first read is half (rounded toward zero); the first read ramps, so the change never clicks."""
    import numpy as np

    from sisessions.play.feeder import Relay

    prepared, titles = voiced
    speech = app.open_speech(CHOICES)
    try:
        def play_at(volume):
            program = Program(prepared.events, titles, 200)
            clips = Clips(speech, program)
            for text in program.texts():
                clips._voice(text)
            relay = Relay(Feeder(program, clips, 0))
            c = Controller(program, relay.source, output=relay)
            told = []
            c.subscribe(told.append)
            assert c.set_volume(volume) == volume
            out = b"".join(relay.read(1024) for _ in range(20))
            return np.frombuffer(out, dtype="<i2").astype(int), c, told

        full, c1, _ = play_at(1.0)
        half, c2, told = play_at(0.5)
    finally:
        speech.close()
    assert c2.now().volume == 0.5 and told[-1].change is Change.VOLUME
    assert np.abs(full).max() > 1000
    assert np.array_equal(half[1024:], (full[1024:] * 0.5).astype(int))
    # the first read: a gain going smoothly from 1 to 0.5 (no step), read where there is sound
    at = np.nonzero(np.abs(full[:1024]) > 500)[0]
    gain = half[at] / full[at]
    assert len(at) > 100 and np.all((gain > 0.49) & (gain < 1.01))
    assert np.all(np.abs(gain - (1 - 0.5 * at / 1024)) < 0.01)
    assert c1.set_volume(7) == 1.0 and c1.set_volume(-1) == 0.0   # louder than rendered is not offered


def test_after_the_pre_roll_the_voice_is_sent_where_from_jumps(voiced):
    """`--from PATTERN --delay`: the pre-roll, then a jump past more lines than are kept loaded
    ahead; the feeder waits there and the voice threads must be told to make that line (they
    were left at the pre-roll: the play waited for ever)."""
    prepared, titles = voiced
    speech = app.open_speech(CHOICES)
    try:
        program = Program(prepared.events, titles, 200, delay=1.0, announce=True)
        target = program.from_pattern("roll", "short")
        clips = Clips(speech, program)
        clips._voice(program.events[0].text)         # the announcement, in memory
        f = Feeder(program, clips, 0, after_preroll=target)
        f.read(sum(program.lengths[:program.first]) + 100)
        assert f.index == target and f.waiting
        assert clips.cursor == target
        assert program.events[target].text in clips._window()
    finally:
        speech.close()
