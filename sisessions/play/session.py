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
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from sisessions.audio import RATE
from sisessions.errors import AudioError, SisessionsError
from sisessions.play import keys as keymap
from sisessions.play.controls import Controller
from sisessions.play.display import LineDisplay, TtyDisplay, View, clock
from sisessions.play.feeder import Feeder
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


class Session:
    """One play: opens the output and runs until the end, a stop, Ctrl-C or a lost output."""

    def __init__(self, prepared, speech, options: PlayOptions, name: str, out: TextIO | None = None,
                 keys_from: TextIO | None = None, debug: bool = False):
        self.prepared = prepared
        self.speech = speech
        self.o = options
        self.name = name
        self.out = out or sys.stdout
        self.keys_from = keys_from or sys.stdin
        self.debug = debug
        s, lib = prepared.session, prepared.library
        titles = {it.pattern: lib.pattern(it.pattern).title for it in s.items}
        self.program = Program(prepared.events, titles, prepared.opts.wpm, options.delay, options.announce)
        target = self.program.from_pattern(options.start_at, s.id) if options.start_at else None
        self.start = 0 if self.program.first or target is None else target
        self.clips = Clips(speech, self.program, debug)
        self.bed = None                # the bed mixed live (play.bed), with --bed
        if prepared.bed is not None:   # numpy only when a bed is asked for
            from sisessions.play.bed import LiveBed

            self.bed = LiveBed.open(prepared.bed, speech.cache.root, self.program)
        self.feeder = Feeder(self.program, self.clips, self.start, after_preroll=target, bed=self.bed)
        self.listener = None           # spoken commands (play.listen), with --listen and a microphone
        self.mixer = None              # the feeder plus the acknowledgement tone (sources.tone), with --listen
        self._listen_note: str | None = None
        self.controller = Controller(self.program, self.feeder)
        self.view = View(self.controller, s.title)
        self.remote = None             # the MPRIS service (play.mpris), when a session bus exists
        self._remote_note: str | None = None
        self._noted: str | None = None

    def run(self) -> Outcome:
        from sisessions.play.device import NoOutput, open_player, quiet_c_stderr

        self.clips.prime(self.start)
        with quiet_c_stderr():
            try:
                player = open_player(self.o.player)
            except NoOutput as e:
                raise NoOutput(
                    f"no audio output could be opened ({e}); to listen anyway, write the session to "
                    f"an MP3 with `sisessions export {self.name}` and play that file") from e
            self.controller.latency_frames = int(player.latency * RATE)
            if self.bed is not None and player.name != "miniaudio":
                # simpleaudio plays whole cues and never pulls the mixed frames (as for the tone)
                print("(the bed is mixed only by the miniaudio player)", file=self.out, flush=True)
            remote = listener = None
            try:
                self.clips.start()
                player.start(self._source())
                remote = self._remote()
                listener = self._listener()
                ending = self._loop(player)
            finally:
                self.feeder.stop()
                player.close()
                self.clips.stop()
                if remote is not None:
                    remote.close()
                if listener is not None:
                    listener.close()
        return self._outcome(ending)

    def _remote(self):
        """MPRIS, started after the first frames are asked for so it never delays the sound."""
        from sisessions.play import mpris

        self.remote = mpris.start(self.controller, self.prepared.session.title)
        self._remote_note = mpris.NO_BUS if self.remote is None else None
        return self.remote

    def _source(self):
        """What the output pulls: the feeder, with --listen wrapped so the acknowledgement
        tone of a spoken command is mixed in (sources.tone)."""
        if not self.o.listen:
            return self.feeder
        from sisessions.sources.tone import ToneMix

        self.mixer = ToneMix(self.feeder)
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
            self.feeder.stop()  # silence first, then everything else (MPRIS says Stopped on close)
            return Ending.INTERRUPTED
        finally:
            if keys is not None:
                keys.close()
            display.close()

    def _run_loop(self, player, keys, display) -> Ending:
        waited_note = False
        while True:
            if keys is not None:
                for ch in keys.read(TICK):
                    keymap.handle(ch, self.controller)
            else:
                time.sleep(TICK if self.out.isatty() else 0.2)
            if self.controller.stopped:
                self._listen_news(display)  # a spoken "stop" is shown as heard
                return Ending.STOPPED
            self._debug_note(display)
            self._listen_news(display)
            self.controller.pump()
            if self.clips.error is not None:
                raise self.clips.error
            # a line loaded a few ms late (after a jump) is no news; a real wait for the voice is
            if self.feeder.waiting and not waited_note and self.feeder.wait_frames > RATE // 3:
                waited_note = True
                display.note("(the voice fell behind: waiting for it in silence)"
                             if self.feeder.first_sound is not None else
                             "(preparing the voice; `sisessions synth` beforehand makes the start instant)")
            display.update()
            if self.feeder.finished:
                time.sleep(player.latency)
                return Ending.COMPLETED
            if not player.alive():
                self.feeder.stop()
                return Ending.LOST

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
        side = opts.side if any(e.side for e in self.program.events) else None
        return Outcome(ending, session.id, session.title, self.name, side, opts.pace,
                       self.speech.settings.engine, pattern, where, self.feeder.session_frames)


def play(prepared, speech, options: PlayOptions, name: str, debug: bool = False) -> Outcome:
    """Play a prepared session to the audio output and say how it ended; the caller logs it and
    calls Outcome.conclude (app.play_and_log does both)."""
    return Session(prepared, speech, options, name, debug=debug).run()
