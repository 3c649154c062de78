"""Hands-free playback: one play of a session, from opening the output to its outcome.

How the parts fit:
- program.Program: the events to play (an optional "starting in" pre-roll, then the session)
  with a length for each; a spoken line's length is a guess until its clip is known.
- prefetch.Clips: threads that synthesize lines ahead of the playing position and keep the few
  clips due next in memory; the player never waits for them.
- feeder.Feeder: the one source of frames, cue by cue (why it does not use output/render is in
  its docstring); a backend from play.device pulls frames from it.
- controls.Controller: the actions every input calls (keys here; MPRIS from play.mpris).
- the main thread reads keys, redraws the display (play.display), and notices the end, a stop,
  Ctrl-C, or an output that went away; `play()` then returns the Outcome. Writing the practice
  log is the caller's (app.play_and_log).
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from sisessions.audio import RATE
from sisessions.errors import AudioError, SisessionsError
from sisessions.plan.timeline import Event, Kind
from sisessions.play import keys as keymap
from sisessions.play.around import (
    ASK_SECONDS,
    CHECK_IN,
    CHECK_IN_KEYS,
    CHECK_IN_NAME,
    CHECK_IN_SPOKEN,
    Around,
)
from sisessions.play.controls import Controller
from sisessions.play.display import LineDisplay, TtyDisplay, View, clock
from sisessions.play.feeder import Feeder, Relay
from sisessions.play.prefetch import Clips
from sisessions.play.program import Program
from sisessions.signals import stop_on_signals

TICK = 0.1                      # the main loop's pace: keys and Ctrl-C are handled within this


@dataclass(frozen=True)
class PlayOptions:
    player: str = "auto"
    delay: float = 0.0           # seconds of silence before the session (--delay)
    announce: bool = False       # say "Starting in N seconds." at once (--announce)
    start_at: str | None = None  # --from PATTERN
    listen: bool = False         # spoken commands from the microphone (--listen, play.listen)
    ask_seconds: float = ASK_SECONDS  # a question stands this long (`play`: the default; tests: shorter)


class Ending(StrEnum):
    COMPLETED = "completed"      # played to the end
    STOPPED = "stopped"          # q, MPRIS Stop (a spoken "stop" later)
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM, SIGHUP
    LOST = "lost"                # the audio output went away


class Interrupted(SisessionsError):
    """Ctrl-C (or SIGTERM, SIGHUP) while playing: exit 1 after saying where it stopped."""


class OutputLost(AudioError):
    """The audio output went away mid-session."""


@dataclass(frozen=True)
class Outcome:
    """How a play ended, with what its practice-log record needs."""

    ending: Ending
    session: str                 # the session's id
    title: str
    name: str                    # as the user named it (for the `--from` hint)
    side: str | None             # None when nothing in it was sided
    pace: float
    engine: str
    pattern: str | None          # the pattern being done or just done at the end
    where: str                   # "in Slow Reach, at 0:12 of 0:40"
    frames: int                  # of the session heard (the pre-roll not counted)
    pain: int | None = None      # the check-in's answer (SPEC §8), written after the play record

    @property
    def minutes(self) -> float:
        return self.frames / RATE / 60

    @property
    def completed(self) -> bool:
        return self.ending is Ending.COMPLETED

    def conclude(self, logged: str = "") -> str:
        """The closing sentence (with `logged`, a note on the practice log, at its end); raises
        Interrupted or OutputLost (exit 1) when the play ended that way."""
        if self.completed:
            return f"Done: {self.title}, {clock(self.frames)} played.{logged}"
        if self.ending is Ending.LOST:
            raise OutputLost(f"the audio output went away {self.where}; the session stopped there"
                             f" and was logged as stopped{logged}")
        again = f" `sisessions play {self.name} --from {self.pattern}` starts there again." if self.pattern else ""
        msg = f"Stopped {self.where}.{again}{logged}"
        if self.ending is Ending.INTERRUPTED:
            raise Interrupted(msg)
        return msg


class Clock:
    """The session loop's time: the monotonic clock, and a wait that reads the terminal's keys
    meanwhile. A test gives its own (a fake clock whose waits pull the frames themselves)."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, seconds: float, keys) -> str:
        """Wait `seconds` (or until a key comes); returns the keys pressed."""
        if keys is not None:
            return keys.read(seconds)
        time.sleep(seconds)
        return ""


class _Part:
    """One program of a play (the check, the session, the check-in) with its clips and feeder."""

    def __init__(self, speech, program: Program, debug: bool, start: int = 0, after_preroll=None, bed=None):
        self.program = program
        self.clips = Clips(speech, program, debug)
        self.start = start
        self.feeder = Feeder(program, self.clips, start, after_preroll=after_preroll, bed=bed)


class Session:
    """One play: opens the output and runs until the end, a stop, Ctrl-C or a lost output.

    With `around` (play.around), the play has up to three parts on the one output: the short
    check and its question (then the session is prepared for the side answered), the session,
    and the check-in's question. Each part is a program of its own; the controller is given each
    in turn, so keys, MPRIS and spoken commands reach whichever is playing."""

    def __init__(self, prepared, speech, options: PlayOptions, name: str, out: TextIO | None = None,
                 keys_from: TextIO | None = None, debug: bool = False, around: Around | None = None,
                 clock: Clock | None = None):
        self.prepared = prepared
        self.speech = speech
        self.o = options
        self.name = name
        self.out = out or sys.stdout
        self.keys_from = keys_from or sys.stdin
        self.debug = debug
        self.clock = clock or Clock()
        self.around = around or Around(check_in=False)
        # a question is asked only when something can answer it: keys, or a microphone
        self.answerable = options.listen or keymap.Keys.usable(self.keys_from)
        self.check: _Part | None = None
        self.main: _Part | None = None
        self.bed = None
        self._completed = False         # the session played to its end (a check-in may follow)
        self._keys = self._display = None
        if self.around.check is not None and self.answerable:
            self.check = _Part(speech, Program(self.around.check, self.around.titles or {}, prepared.opts.wpm),
                               debug)
        elif self.around.for_answer is not None:  # nobody to ask: the saved side (said), else both
            self.prepared, _ = self.around.for_answer(None, False)
        if self.check is None:
            self._make_main()
        self.part = self.check or self.main
        self.listener = None           # spoken commands (play.listen), with --listen and a microphone
        self.mixer = None              # the feeder plus the acknowledgement tone (sources.tone), with --listen
        self._listen_note: str | None = None
        self.relay = Relay(self.part.feeder)
        self.controller = Controller(self.part.program, self.part.feeder, output=self.relay)
        self.view = View(self.controller, prepared.session.title)
        self.remote = None             # the MPRIS service (play.mpris), when a session bus exists
        self._remote_note: str | None = None
        self._noted: str | None = None
        self.answers: dict[str, str] = {}   # what was answered: {"check": "left", "pain": "3"}

    def _make_main(self, lead: tuple[str, ...] = ()) -> None:
        prepared, o, speech = self.prepared, self.o, self.speech
        s, lib = prepared.session, prepared.library
        titles = {it.pattern: lib.pattern(it.pattern).title for it in s.items}
        program = Program(prepared.events, titles, prepared.opts.wpm, o.delay, o.announce, lead=lead)
        target = program.from_pattern(o.start_at, s.id) if o.start_at else None
        start = 0 if program.first or target is None else target
        self.bed = None                # the bed mixed live (play.bed), with --bed
        if prepared.bed is not None:   # numpy only when a bed is asked for
            from sisessions.play.bed import LiveBed

            self.bed = LiveBed.open(prepared.bed, speech.cache.root, program)
        self.main = _Part(speech, program, self.debug, start, target, self.bed)

    # the session's part (the one logged), as before there were parts
    @property
    def program(self) -> Program:
        return (self.main or self.check).program

    @property
    def feeder(self) -> Feeder:
        return (self.main or self.check).feeder

    @property
    def clips(self) -> Clips:
        return self.part.clips

    def run(self, player=None) -> Outcome:
        """Play to the outcome on the output `o.player` names (or on `player`, a play.device
        Player already made: a test's that it pulls the frames from itself)."""
        from sisessions.play.device import NoOutput, open_player, quiet_c_stderr

        self.part.clips.prime(self.part.start)
        with quiet_c_stderr():
            try:
                player = player or open_player(self.o.player)
            except NoOutput as e:
                raise NoOutput(
                    f"no audio output could be opened ({e}); to listen anyway, write the session to "
                    f"an MP3 with `sisessions export {self.name}` and play that file") from e
            self.controller.latency_frames = int(player.latency * RATE)
            self.player = player
            if self.prepared.bed is not None and player.name != "miniaudio":
                # simpleaudio plays whole cues and never pulls the mixed frames (as for the tone)
                print("(the bed is mixed only by the miniaudio player)", file=self.out, flush=True)
            remote = listener = None
            try:
                self.part.clips.start()
                player.start(self._source())
                remote = self._remote()
                listener = self._listener()
                ending = self._loop(player)
            finally:
                self.part.feeder.stop()
                player.close()
                self.part.clips.stop()
                if remote is not None:
                    remote.close()
                if listener is not None:
                    listener.close()
        return self._outcome(ending)

    def _switch(self, part: _Part) -> None:
        """Play `part` next, on the same output."""
        old = self.part
        part.clips.prime(part.start)
        part.clips.start()
        self.part = part
        self.controller.load(part.program, part.feeder)
        self.relay.switch(part.feeder)
        old.clips.stop()

    def _remote(self):
        """MPRIS, started after the first frames are asked for so it never delays the sound."""
        from sisessions.play import mpris

        self.remote = mpris.start(self.controller, self.prepared.session.title)
        self._remote_note = mpris.NO_BUS if self.remote is None else None
        return self.remote

    def _source(self):
        """What the output pulls: the current part's feeder, with --listen wrapped so the
        acknowledgement tone of a spoken command is mixed in (sources.tone)."""
        if not self.o.listen:
            return self.relay
        from sisessions.sources.tone import ToneMix

        self.mixer = ToneMix(self.relay)
        return self.mixer

    def _listener(self):
        """Spoken commands, started (like MPRIS) after the first frames are asked for; no
        microphone: one line, and the session plays on."""
        if not self.o.listen:
            return None
        from sisessions.play import listen

        self.listener = listen.start(self.controller, self.mixer, self.speech)
        self._listen_note = listen.NO_MICROPHONE if self.listener is None else None
        if self.listener is not None:  # the display shows "listening"
            self.view.listening = lambda: self.listener.listening
        return self.listener

    def _listen_news(self, display) -> None:
        """The listener's lines: no microphone (once), each command heard, and in the plain
        line output each time it starts listening (a terminal shows that in the status)."""
        if self._listen_note:
            display.note(self._listen_note)
            self._listen_note = None
        if self.listener is not None:
            for news in self.listener.news():
                if news != "listening" or not self.out.isatty():
                    display.note(f"({news})")

    def _loop(self, player) -> Ending:
        keys = None
        if keymap.Keys.usable(self.keys_from):
            try:
                keys = keymap.Keys(self.keys_from)
            except Exception:  # pragma: no cover - a terminal that refuses cbreak
                keys = None
        tty = self.out.isatty()
        display = TtyDisplay(self.view, self.out, keys is not None) if tty else LineDisplay(self.view, self.out)
        self.display = display
        self.controller.subscribe(display.changed)
        try:
            with stop_on_signals():  # SIGTERM and SIGHUP end the play as Ctrl-C does
                return self._run_loop(player, keys, display)
        except KeyboardInterrupt:
            self.part.feeder.stop()  # silence first, then everything else (MPRIS says Stopped on close)
            return Ending.COMPLETED if self._completed else Ending.INTERRUPTED
        finally:
            if keys is not None:
                keys.close()
            display.close()

    def _run_loop(self, player, keys, display) -> Ending:
        self._keys, self._display = keys, display
        if self.check is not None:
            ending = self._play(player)
            if ending is not Ending.COMPLETED:
                return ending
            answer = self._ask("side")
            if self.controller.stopped:
                return Ending.STOPPED
            if answer is not None:
                self.answers["check"] = answer
            try:
                self.prepared, lead = self.around.for_answer(answer, True)  # writes the check
            except OSError as e:  # the log could not be written: the side is still the answer's
                self._display.note(f"(the practice log could not be written: {e.strerror or e})")
                self.prepared, lead = self.around.for_answer(answer, True, record=False)
            self._make_main(lead)
            self._switch(self.main)
        ending = self._play(player)
        if ending is Ending.COMPLETED:
            self._completed = True
            # asked only when something can answer it now (--listen found no microphone: no)
            if self.around.check_in and (self._keys is not None or self.listener is not None):
                self._check_in(player)
        return ending

    def _play(self, player) -> Ending:
        """The current part, to its end (or a stop, or a lost output)."""
        waited_note = False
        part = self.part
        while True:
            self._turn(TICK)
            display = self._display
            if self.controller.stopped:
                self._listen_news(display)  # a spoken "stop" is shown as heard
                return Ending.STOPPED
            if part.clips.error is not None:
                raise part.clips.error
            # a line loaded a few ms late (after a jump) is no news; a real wait for the voice is
            if part.feeder.waiting and not waited_note and part.feeder.wait_frames > RATE // 3:
                waited_note = True
                display.note("(the voice fell behind: waiting for it in silence)"
                             if part.feeder.first_sound is not None else
                             "(preparing the voice; `sisessions synth` beforehand makes the start instant)")
            if part.feeder.finished:
                player.drain()
                self.controller.pump()
                return Ending.COMPLETED
            if not player.alive():
                part.feeder.stop()
                return Ending.LOST

    def _turn(self, seconds: float) -> None:
        """One turn of the main loop: keys (or a wait), the listener's news, change events, the
        display."""
        keys, display = self._keys, self._display
        for ch in self.clock.wait(seconds, keys):
            keymap.handle(ch, self.controller)
        self._debug_note(display)
        self._listen_news(display)
        self.controller.pump()
        display.update()

    def _ask(self, kind: str) -> str | None:
        """Let the question stand (o.ask_seconds): a key or a spoken answer, else None."""
        if self._keys is None and self.listener is None:
            return None  # nothing can answer (--listen without a microphone, no terminal)
        cancel = threading.Event()
        if self.listener is not None:
            listener = self.listener

            def hear():
                value = listener.ask(kind, self.o.ask_seconds, cancel)
                if value is not None:
                    self.controller.answer(kind, str(value))

            threading.Thread(target=hear, name="listen-answer", daemon=True).start()
        try:
            return self.controller.ask(kind, self.o.ask_seconds, clock=self.clock.now, wait=self._turn)
        finally:
            cancel.set()

    def _check_in(self, player) -> None:
        """Pain now, 0 to 10, when the session has ended: recorded when answered."""
        words = CHECK_IN_SPOKEN if self.listener is not None else CHECK_IN_KEYS
        program = Program((Event(Kind.SAY, text=CHECK_IN), Event(Kind.SAY, text=words)), {},
                          self.program.wpm, name=CHECK_IN_NAME)
        self._switch(_Part(self.speech, program, self.debug))
        if self._play(player) is not Ending.COMPLETED:
            return
        pain = self._ask("pain")
        if pain is not None and not self.controller.stopped:
            self.answers["pain"] = pain     # written by the caller, after the play's record
            self._display.note(f"(pain now: {pain})")

    def _debug_note(self, display) -> None:
        """Under --debug, one line when MPRIS is not there (no bus) or its bus went away."""
        note = self._remote_note or (self.remote.note if self.remote is not None else None)
        if note and note != self._noted:
            self._noted = note
            if self.debug:
                display.note(note)

    # -- the end
    def _where(self) -> tuple[str | None, str]:
        """(the pattern being done or just done, where: "in Washrag, at 3:12 of 20:40")."""
        if self.main is None:
            return None, "during the check, before the session began"
        index, offset = self.feeder.where()
        if index < self.program.first:
            return None, "before the session began"
        b = self.program.last_block_before(index)
        pattern = b.pattern if b is not None else None
        place = f"in {self.program.title(b)}" if b is not None else "before the first pattern"
        return pattern, f"{place}, at {clock(self.program.position(index, offset))} of {clock(self.program.total)}"

    def _outcome(self, ending: Ending) -> Outcome:
        pattern, where = self._where()
        opts, session = self.prepared.opts, self.prepared.session
        side = opts.side if self.main is not None and any(e.side for e in self.program.events) else None
        frames = self.feeder.session_frames if self.main is not None else 0
        return Outcome(ending, session.id, session.title, self.name, side, opts.pace,
                       self.speech.settings.engine, pattern, where, frames,
                       int(self.answers["pain"]) if "pain" in self.answers else None)


def play(prepared, speech, options: PlayOptions, name: str, debug: bool = False,
         around: Around | None = None) -> Outcome:
    """Play a prepared session to the audio output and say how it ended; the caller logs it and
    calls Outcome.conclude (app.play_and_log does both). With `around`, the check before it and
    the check-in after it (their answers are written through around.record as they come)."""
    return Session(prepared, speech, options, name, debug=debug, around=around).run()
