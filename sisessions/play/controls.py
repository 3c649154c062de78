"""The one controller every input calls while playing (keys, MPRIS, spoken commands), and its
read side: `now()`, the state every frontend reads, and typed change events they subscribe to.

Frontends (the display, MPRIS, the listener) import only this module: they never read the
feeder or the program themselves, and none names an item in its own words (play.program's
Item does, once).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sisessions.audio import RATE
from sisessions.plan.timeline import Kind
from sisessions.play.feeder import Feeder
from sisessions.play.program import Item, Program


class Command(StrEnum):
    """The actions of SPEC §6, one name for every input (a key, an MPRIS method, a word)."""

    TOGGLE = "toggle"
    PAUSE = "pause"
    RESUME = "resume"
    NEXT = "next"
    BACK = "back"
    REPEAT = "repeat"
    STOP = "stop"


class Phase(StrEnum):
    PREROLL = "preroll"          # the --delay before the session
    PLAYING = "playing"          # the session (paused or not: see Now.paused)
    ASKING = "asking"            # a question stands (the side after the check, pain at the end)
    FINISHED = "finished"        # played to its end
    STOPPED = "stopped"          # q, Stop, "stop", Ctrl-C


class Change(StrEnum):
    """What changed, as told to subscribers (each with the state after it, `Changed.now`)."""

    PAUSED = "paused"
    RESUMED = "resumed"
    JUMPED = "jumped"            # next, back, repeat: MPRIS tells it as Seeked
    ITEM = "item"                # another item began (a pattern, a rest, the pre-roll)
    LINE = "line"                # a spoken line began (Changed.text)
    WAITING = "waiting"          # the voice fell behind: silence until its line is ready
    LENGTH = "length"            # the session's length changed (a line's guessed length became known)
    VOLUME = "volume"            # the output gain changed (MPRIS Volume)
    ASKED = "asked"              # a question stands (Changed.text: its kind)
    ANSWERED = "answered"        # ... and was answered, or timed out (Changed.text: the answer or "")
    FINISHED = "finished"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Now:
    """The player's state at one moment. Frames are of the session's own clock (the pre-roll
    is not part of it) and count what has been heard: audio still queued in the output is not."""

    phase: Phase
    paused: bool
    waiting: bool                # silent, waiting for the voice
    item: Item | None            # None past the end
    items: int                   # patterns in the session (for "2 of 5")
    position: int                # frames of the session heard
    total: int                   # the session's length (a guess until every line is known)
    exact: bool                  # every length is known
    item_position: int
    item_length: int
    preroll_left: int            # frames until the session starts (0 once it has)
    line: str | None             # the current or last spoken line
    can_next: bool
    question: str | None         # "side" or "pain" while one stands
    volume: float = 1.0          # the output gain, 0 to 1

    @property
    def live(self) -> bool:
        return self.phase not in (Phase.FINISHED, Phase.STOPPED)


@dataclass(frozen=True)
class Changed:
    """A change and the state just after it. Items and lines begun in the audio thread are told
    a little later (at the session loop's next turn): `item` is then the item that began, which
    `now.item` may already have left."""

    change: Change
    now: Now
    text: str | None = None
    item: Item | None = None


class Controller:
    """The few actions of SPEC §6, the same for every input, and the state they leave.

    Every public method is thread-safe: all of them run under one lock, so a key, an MPRIS call
    and a spoken command can never interleave (the feeder's own lock keeps each step atomic
    against the audio thread). None of them blocks for longer than a feeder step, so they may be
    called from an event loop. Subscribers are called after each action (in the caller's
    thread) and from `pump` (the session's main loop) with a Changed; they must return at once.
    """

    def __init__(self, program: Program, feeder: Feeder, latency: float = 0.0, output=None):
        self.p = program
        self.f = feeder
        self.output = output                        # has .gain (feeder.Relay), or None
        self.latency_frames = int(latency * RATE)  # audio still queued in the output
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._listeners: list[Callable[[Changed], None]] = []
        self._item_key: str | None = None
        self._line: str | None = None
        self._total = program.total
        self._waiting = False
        self._finished = False
        self._question: str | None = None
        self._answer: str | None = None
        self._answered = threading.Event()

    def load(self, program: Program, feeder: Feeder) -> None:
        """The next part of the play (the check, the session, the check-in): its program and
        feeder; subscribers hear of its first item as it begins."""
        with self._lock:
            self.p, self.f = program, feeder
            self._item_key = None
            self._total = program.total
            self._waiting = self._finished = False

    # -- the actions
    def do(self, command: Command | str) -> bool:
        """Any action by its Command; False when it did nothing."""
        command = Command(command)
        if command is Command.TOGGLE:
            self.toggle()
            return True
        return getattr(self, command.value)() is not False

    def toggle(self) -> bool:
        """Pause or resume (space, MPRIS PlayPause); True when now paused."""
        with self._lock:
            paused = self.f.toggle_pause()
        self._tell(Change.PAUSED if paused else Change.RESUMED)
        return paused

    def pause(self) -> bool:
        """Silence within a few ms; the line being spoken is said again whole on resume."""
        with self._lock:
            if self.f.paused or self.stopped:
                return False
            self.f.toggle_pause()
        self._tell(Change.PAUSED)
        return True

    def resume(self) -> bool:
        with self._lock:
            if not self.f.paused or self.stopped:
                return False
            self.f.toggle_pause()
        self._tell(Change.RESUMED)
        return True

    def next(self) -> bool:
        """To the start of the next pattern (after the last one, the closing part); from the
        pre-roll, to where the session starts. False when there is nowhere to go."""
        with self._lock:
            if self.stopped:
                return False
            index, _ = self.f.where()
            target = self.p.next_target(index)
            if index < self.p.first and self.f.after_preroll is not None:
                target = self.f.after_preroll
            if target is None:
                return False
            self.f.seek(target)
        self._tell(Change.JUMPED)
        return True

    def back(self) -> bool:
        """To the start of this pattern (or of the one just done, in a rest)."""
        with self._lock:
            if self.stopped:
                return False
            index, _ = self.f.where()
            self.f.seek(self.p.back_target(index) if index >= self.p.first else self.p.first)
        self._tell(Change.JUMPED)
        return True

    def repeat(self) -> bool:
        """Say the last line again; False when no line was said yet."""
        with self._lock:
            if self.stopped or self.f.last_say is None:
                return False
            self.f.seek(self.f.last_say)
        self._tell(Change.JUMPED)
        return True

    def stop(self) -> bool:
        """End the session (logged as stopped): silent at once; the session loop then ends."""
        with self._lock:
            if self.stopped:
                return False
            self.f.stop()
            self._stop.set()
        self._answered.set()  # a question standing is left unanswered
        self._tell(Change.STOPPED)
        return True

    @property
    def volume(self) -> float:
        return self.output.gain if self.output is not None else 1.0

    def set_volume(self, volume: float) -> float:
        """The output gain, 0 (silent) to 1 (as rendered); louder than rendered is not offered
        (it would clip). Returns the gain set."""
        volume = min(1.0, max(0.0, float(volume))) if volume == volume else 1.0  # NaN: as rendered
        with self._lock:
            if self.output is None or self.output.gain == volume:
                return self.volume
            self.output.gain = volume
        self._tell(Change.VOLUME)
        return volume

    # -- questions (the side after the check, the pain at the end)
    def ask(self, kind: str, timeout: float, clock: Callable[[], float] = time.monotonic,
            wait: Callable[[float], None] | None = None) -> str | None:
        """Let a question stand for `timeout` seconds: the answer given through `answer` (a key,
        a spoken word, any thread), or None when there was none or the session was stopped.
        `wait(seconds)` is called between looks (the session loop reads keys there)."""
        with self._lock:
            self._question, self._answer = kind, None
            self._answered.clear()
        self._tell(Change.ASKED, kind)
        deadline = clock() + timeout
        while not self._answered.is_set() and clock() < deadline and not self.stopped:
            if wait is None:
                self._answered.wait(min(0.1, max(0.0, deadline - clock())))
            else:
                wait(min(0.1, max(0.0, deadline - clock())))
        with self._lock:
            answer, self._question = self._answer, None
        self._tell(Change.ANSWERED, answer or "")
        return answer

    def answer(self, kind: str, value: str) -> bool:
        """The answer to the standing question of this kind; False when none stands (or one of
        another kind, or it was answered already)."""
        with self._lock:
            if self._question != kind or self._answered.is_set():
                return False
            self._answer = value
            self._answered.set()
        return True

    # -- the read side
    @property
    def stopped(self) -> bool:
        """True once stop() was called."""
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return self.f.paused

    @property
    def question(self) -> str | None:
        return self._question

    def can_next(self) -> bool:
        with self._lock:
            return self._can_next(self.f.where()[0])

    def _can_next(self, index: int) -> bool:
        return not self.stopped and not self.f.finished and (
            self.p.next_target(index) is not None
            or (index < self.p.first and self.f.after_preroll is not None))

    def now(self) -> Now:
        """The state now, as every frontend shows it."""
        p, f = self.p, self.f
        with self._lock:
            index, offset = f.where()
            paused, waiting, question = f.paused, f.waiting, self._question
            can_next = self._can_next(index)
        if self.stopped or f.stopped:
            phase = Phase.STOPPED
        elif question is not None:
            phase = Phase.ASKING
        elif f.finished or index >= len(p.events):
            phase = Phase.FINISHED
        elif index < p.first:
            phase = Phase.PREROLL
        else:
            phase = Phase.PLAYING
        # what is heard lags what was taken by the output's queue, while it plays
        lag = 0 if (paused or phase is not Phase.PLAYING) else self.latency_frames
        item = p.item_at(index)
        total = p.total
        if item is None:
            item_pos = item_len = 0
        else:
            lengths = p.lengths
            item_pos = max(0, sum(lengths[item.start:index]) + offset - lag)
            item_len = sum(lengths[item.start:item.end])
        position = min(max(0, p.position(index, offset) - lag), total) if index >= p.first else 0
        return Now(phase, paused, waiting, item, len(p.blocks), position, total, p.all_known,
                   item_pos, item_len, p.preroll_left(index, offset), self._line, can_next, question,
                   self.volume)

    def quiet(self) -> bool:
        """True when nothing is being heard: paused, stopped, finished, waiting for the voice, or
        in a silence whose start has left the output (a spoken-command listener listens only
        then, so it never hears the session's own voice)."""
        f = self.f
        with self._lock:
            if f.paused or f.stopped or f.finished or f.waiting:
                return True
            index, offset = f.where()
            if index >= len(self.p.events):
                return True
            return self.p.events[index].kind == Kind.PAUSE and offset >= self.latency_frames

    # -- change events
    def subscribe(self, listener: Callable[[Changed], None]) -> None:
        self._listeners.append(listener)

    def pump(self) -> None:
        """Tell subscribers what the audio thread did since the last call: items and lines
        begun, a wait for the voice, a length now known, the end. The session's main loop calls
        it (never the audio thread: subscribers may take their time)."""
        f, p = self.f, self.p
        while f.started:
            index = f.started.popleft()
            item = p.item_at(index)
            key = item.key if item is not None else None
            if key != self._item_key:
                self._item_key = key
                self._tell(Change.ITEM, item=item)
            e = p.events[index]
            if e.kind == Kind.SAY:
                self._line = e.text
                self._tell(Change.LINE, e.text)
        if f.waiting != self._waiting:
            self._waiting = f.waiting
            if f.waiting:
                self._tell(Change.WAITING)
        total = p.total
        if total != self._total:
            self._total = total
            self._tell(Change.LENGTH)
        if f.finished and not self._finished:
            self._finished = True
            self._tell(Change.FINISHED)

    def _tell(self, change: Change, text: str | None = None, item: Item | None = None) -> None:
        if not self._listeners:
            return
        now = self.now()
        event = Changed(change, now, text, item if change is Change.ITEM else now.item)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # pragma: no cover - a listener's bug never stops an action
                pass
