"""MPRIS on the D-Bus session bus, so that media keys, headset buttons, KDE Connect/GSConnect and
playerctl reach the one controller (SPEC §6).

It runs an asyncio loop (dbus-fast) in its own thread and never touches the audio: a call
becomes a controller method, and what clients see is read from the program and the feeder
ten times a second (and at once after an action). One "track" is one item of the session: a
pattern done once (with its side), or the opening, a rest, the closing, or the pre-roll.
No bus, or a bus that fails or goes away, only ends this thread; the session plays on.
"""
# No `from __future__ import annotations` here: dbus-fast reads the D-Bus signatures ('s',
# 'a{sv}') from the annotations of the methods and properties below.

import asyncio
import itertools
import os
import shutil
import tempfile
import threading
from pathlib import Path

from sisessions.audio import RATE
from sisessions.play.controls import JUMP, Controller
from sisessions.play.feeder import Feeder
from sisessions.play.program import Program

NAME = "org.mpris.MediaPlayer2.sisessions"
PATH = "/org/mpris/MediaPlayer2"
TRACK_PATH = "/org/sisessions/track"
NO_TRACK = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
POLL = 0.1            # seconds between looks at the player for PropertiesChanged
COVER_SIZE = 256      # px: enough for a lock screen or a phone's notification
# properties sent with PropertiesChanged (Position never is: clients extrapolate it, and a
# jump is told with Seeked)
WATCHED = ("PlaybackStatus", "Metadata", "CanGoNext", "CanGoPrevious", "CanPlay", "CanPause")


class Track:
    """Which item of the program is playing, its length and the position in it (in frames)."""

    def __init__(self, program: Program, feeder: Feeder, controller: Controller):
        self.p = program
        self.f = feeder
        self.c = controller

    def span(self, index: int) -> tuple[str, str, int, int]:
        """(track id, title, first event, end event) of the item holding event `index`."""
        p = self.p
        if index < p.first:
            return f"{TRACK_PATH}/preroll", "Starting soon", 0, p.first
        b = p.block_at(index)
        if b is not None:
            side = f" ({b.side} side)" if b.side else ""
            return f"{TRACK_PATH}/item{b.number}", f"{p.titles.get(b.pattern, b.pattern)}{side}", b.start, b.end
        before = [x for x in p.blocks if x.end <= index]
        k = len(before)
        start = before[-1].end if before else p.first
        end = p.blocks[k].start if k < len(p.blocks) else len(p.events)
        title = "Opening" if k == 0 else "Closing" if k == len(p.blocks) else "Rest"
        return f"{TRACK_PATH}/gap{k}", title, start, end

    def now(self) -> tuple[str, str, int, int]:
        """(track id, title, length, position): the position is what has been heard, so the
        frames still queued in the output are not counted while playing."""
        index, offset = self.f.where()
        if index >= len(self.p.events):
            return NO_TRACK, "", 0, 0
        tid, title, start, end = self.span(index)
        lengths = self.p.lengths
        pos = sum(lengths[start:index]) + offset
        if not (self.f.paused or self.f.stopped):
            pos -= self.c.latency_frames
        return tid, title, sum(lengths[start:end]), max(0, pos)


def us(frames: int) -> int:
    return frames * 1_000_000 // RATE


def service_classes():
    """The two interfaces, defined when dbus-fast is first needed (it is imported lazily)."""
    from dbus_fast import DBusError, PropertyAccess, Variant
    from dbus_fast.service import ServiceInterface, dbus_property, method, signal

    READ = PropertyAccess.READ

    class Root(ServiceInterface):
        """org.mpris.MediaPlayer2: who we are; there is no window to raise."""

        def __init__(self):
            super().__init__("org.mpris.MediaPlayer2")

        @method()
        def Raise(self):
            pass

        @method()
        def Quit(self):
            raise DBusError("org.mpris.MediaPlayer2.Error.NotSupported", "use Stop: it ends the session")

        @dbus_property(access=READ)
        def CanQuit(self) -> "b":
            return False

        @dbus_property(access=READ)
        def CanRaise(self) -> "b":
            return False

        @dbus_property(access=READ)
        def HasTrackList(self) -> "b":
            return False

        @dbus_property(access=READ)
        def Identity(self) -> "s":
            return "sisessions"

        @dbus_property(access=READ)
        def SupportedUriSchemes(self) -> "as":
            return []

        @dbus_property(access=READ)
        def SupportedMimeTypes(self) -> "as":
            return []

    class Player(ServiceInterface):
        """org.mpris.MediaPlayer2.Player: every call goes to the controller."""

        def __init__(self, remote: "Mpris"):
            super().__init__("org.mpris.MediaPlayer2.Player")
            self.r = remote
            self.c = remote.controller

        @method()
        def Next(self):
            self.c.next()

        @method()
        def Previous(self):
            self.c.back()

        @method()
        def Pause(self):
            self.c.pause()

        @method()
        def PlayPause(self):
            self.c.toggle()

        @method()
        def Stop(self):
            self.c.stop()

        @method()
        def Play(self):
            self.c.resume()

        # CanSeek is false: the spec asks for no effect then (a session is not scrubbed)
        @method()
        def Seek(self, offset: "x"):
            pass

        @method()
        def SetPosition(self, track: "o", position: "x"):
            pass

        @method()
        def OpenUri(self, uri: "s"):
            raise DBusError("org.mpris.MediaPlayer2.Error.NotSupported", "sisessions plays its own sessions")

        @signal()
        def Seeked(self, position: "x") -> "x":
            return position

        @dbus_property(access=READ)
        def PlaybackStatus(self) -> "s":
            return self.r.status()

        @dbus_property(access=READ)
        def Rate(self) -> "d":
            return 1.0

        @dbus_property(access=READ)
        def MinimumRate(self) -> "d":
            return 1.0

        @dbus_property(access=READ)
        def MaximumRate(self) -> "d":
            return 1.0

        @dbus_property(access=READ)
        def Metadata(self) -> "a{sv}":
            return {k: Variant(sig, v) for k, (sig, v) in self.r.metadata().items()}

        @dbus_property(access=READ)
        def Position(self) -> "x":
            return us(self.r.track.now()[3])

        @dbus_property(access=READ)
        def CanGoNext(self) -> "b":
            return self.c.can_next()

        @dbus_property(access=READ)
        def CanGoPrevious(self) -> "b":
            return self.r.live()

        @dbus_property(access=READ)
        def CanPlay(self) -> "b":
            return self.r.live()

        @dbus_property(access=READ)
        def CanPause(self) -> "b":
            return self.r.live()

        @dbus_property(access=READ)
        def CanSeek(self) -> "b":
            return False

        @dbus_property(access=READ)
        def CanControl(self) -> "b":
            return True

    return Root, Player


class Mpris:
    """The MPRIS service of one play, in its own thread. `note` holds one line for --debug
    when there was no bus or it went away; `name` the bus name it owns."""

    def __init__(self, program: Program, feeder: Feeder, controller: Controller, album: str):
        self.program = program
        self.feeder = feeder
        self.controller = controller
        self.album = album
        self.track = Track(program, feeder, controller)
        self.name: str | None = None
        self.note: str | None = None
        self.ready = threading.Event()     # set once the name is owned (or it never will be)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bus = None
        self._wake: asyncio.Event | None = None
        self._counter = itertools.count(1)  # next() on it is atomic: jumps come from any thread
        self._jumps = 0
        self._dir = tempfile.mkdtemp(prefix="sisessions-mpris-")
        self._art = ""
        self._thread = threading.Thread(target=self._run, name="sisessions-mpris", daemon=True)

    # -- what clients read
    def live(self) -> bool:
        return not (self.controller.stopped or self.feeder.stopped or self.feeder.finished)

    def status(self) -> str:
        if not self.live():
            return "Stopped"
        return "Paused" if self.controller.paused else "Playing"

    def metadata(self) -> dict[str, tuple[str, object]]:
        tid, title, length, _ = self.track.now()
        md = {"mpris:trackid": ("o", tid), "xesam:title": ("s", title), "xesam:album": ("s", self.album),
              "xesam:artist": ("as", ["sisessions"]), "mpris:length": ("x", us(length))}
        if self._art:
            md["mpris:artUrl"] = ("s", self._art)
        return md

    # -- the thread
    def start(self) -> "Mpris":
        self.controller.subscribe(self._told)
        self._thread.start()
        return self

    def _told(self, what: str) -> None:
        """A controller action (any thread): look again at once; a jump is told with Seeked."""
        if what == JUMP:
            self._jumps = next(self._counter)
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop has closed: nobody to tell
                pass

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # the bus is an extra: nothing here may stop the session
            self.note = self.note or f"(MPRIS: {type(e).__name__}: {e})"
        finally:
            self.ready.set()

    async def _main(self) -> None:
        from dbus_fast import BusType, NameFlag, RequestNameReply
        from dbus_fast.aio import MessageBus

        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            bus = await asyncio.wait_for(MessageBus(bus_type=BusType.SESSION).connect(), 5)
        except Exception as e:
            self.note = f"(no D-Bus session bus, so no media keys or playerctl: {e or type(e).__name__})"
            return
        self._bus = bus
        root_cls, player_cls = service_classes()
        player = player_cls(self)
        bus.export(PATH, root_cls())
        bus.export(PATH, player)
        self._write_cover()
        for name in (NAME, f"{NAME}.instance{os.getpid()}"):
            reply = await bus.request_name(name, NameFlag.DO_NOT_QUEUE)
            if reply in (RequestNameReply.PRIMARY_OWNER, RequestNameReply.ALREADY_OWNER):
                self.name = name
                break
        self.ready.set()
        if self.name is None:
            self.note = f"(MPRIS: {NAME} and its instance name are both taken)"
            bus.disconnect()
            return
        watch = asyncio.ensure_future(self._watch(player))
        try:
            await bus.wait_for_disconnect()
        except Exception:  # the bus went away under us: fine, the session plays on
            pass
        finally:
            watch.cancel()
        if self.live():
            self.note = "(the D-Bus session bus went away: media keys no longer reach this session)"

    def _write_cover(self) -> None:
        from sisessions.sources.cover import cover_png

        try:
            path = Path(self._dir) / "cover.png"
            path.write_bytes(cover_png(COVER_SIZE))
            self._art = path.as_uri()
        except OSError:  # no cover is no loss
            self._art = ""

    async def _watch(self, player) -> None:
        """Send PropertiesChanged for whatever changed, and Seeked after a jump."""
        sent: dict[str, object] = {}
        jumps = self._jumps
        while True:
            now = {"PlaybackStatus": self.status(), "Metadata": self.metadata(),
                   "CanGoNext": self.controller.can_next(), "CanGoPrevious": self.live(),
                   "CanPlay": self.live(), "CanPause": self.live()}
            changed = {k: v for k, v in now.items() if sent.get(k) != v}
            if changed:
                if "Metadata" in changed:
                    from dbus_fast import Variant

                    changed["Metadata"] = {k: Variant(s, v) for k, (s, v) in changed["Metadata"].items()}
                player.emit_properties_changed(changed)
                sent = now
            if self._jumps != jumps:
                jumps = self._jumps
                player.Seeked(us(self.track.now()[3]))
            try:
                await asyncio.wait_for(self._wake.wait(), POLL)
            except TimeoutError:
                pass
            self._wake.clear()

    def close(self) -> None:
        """Let clients see the end (Stopped), leave the bus, and remove the cover file."""
        loop = self._loop
        if loop is not None and self._thread.is_alive():
            async def bye():
                await asyncio.sleep(POLL * 1.5)  # one last look: PlaybackStatus "Stopped"
                if self._bus is not None:
                    self._bus.disconnect()
            try:
                asyncio.run_coroutine_threadsafe(bye(), loop)
            except RuntimeError:
                pass
            self._thread.join(timeout=1.0)
        shutil.rmtree(self._dir, ignore_errors=True)


NO_BUS = "(no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set): no media keys or playerctl)"


def start(program: Program, feeder: Feeder, controller: Controller, album: str) -> Mpris | None:
    """The MPRIS service of this play, or None when there is no session bus to offer it on
    (then `play` is exactly as without it, and NO_BUS is the line for --debug)."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    try:
        import dbus_fast  # noqa: F401
    except ImportError:
        return None
    try:
        return Mpris(program, feeder, controller, album).start()
    except (OSError, RuntimeError):  # no temp folder, no thread to spare: play without it
        return None
