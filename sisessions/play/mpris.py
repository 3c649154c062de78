"""MPRIS on the D-Bus session bus, so that media keys, headset buttons, KDE Connect/GSConnect and
playerctl reach the one controller (SPEC §6).

It runs an asyncio loop (dbus-fast) in its own thread and never touches the audio: a call
becomes a controller command, what clients read is the controller's `now()`, and what they are
told (PropertiesChanged, Seeked) follows the controller's change events; nothing is polled.
One "track" is one item of the session (play.program.Item): a pattern done once (with its
side), or the opening, a rest, the closing, or the pre-roll.
No bus, or a bus that fails or goes away, only ends this thread; the session plays on.
"""
# No `from __future__ import annotations` here: dbus-fast reads the D-Bus signatures ('s',
# 'a{sv}') from the annotations of the methods and properties below.

import asyncio
import os
import shutil
import tempfile
import threading
from pathlib import Path

from sisessions.audio import RATE
from sisessions.play.controls import Change, Changed, Command, Controller, Now

NAME = "org.mpris.MediaPlayer2.sisessions"
PATH = "/org/mpris/MediaPlayer2"
TRACK_PATH = "/org/sisessions/track"
NO_TRACK = "/org/mpris/MediaPlayer2/TrackList/NoTrack"
COVER_SIZE = 256      # px: enough for a lock screen or a phone's notification
# properties sent with PropertiesChanged (Position never is: clients extrapolate it, and a
# jump is told with Seeked)
WATCHED = ("PlaybackStatus", "Metadata", "CanGoNext", "CanGoPrevious", "CanPlay", "CanPause", "Volume")
DESKTOP_ENTRY = "sisessions"   # desktop/sisessions.desktop, installed with the package
METHODS = {"Next": Command.NEXT, "Previous": Command.BACK, "Pause": Command.PAUSE,
           "PlayPause": Command.TOGGLE, "Stop": Command.STOP, "Play": Command.RESUME}


def track_id(now: Now) -> str:
    return f"{TRACK_PATH}/{now.item.key}" if now.item is not None else NO_TRACK


def status(now: Now) -> str:
    if not now.live:
        return "Stopped"
    return "Paused" if now.paused else "Playing"


def properties(now: Now, album: str, art: str = "") -> dict[str, object]:
    """What clients see of `now`, as plain values: (signature, value) for Metadata's entries."""
    md = {"mpris:trackid": ("o", track_id(now)), "xesam:title": ("s", now.item.title if now.item else ""),
          "xesam:album": ("s", album), "xesam:artist": ("as", ["sisessions"]),
          "mpris:length": ("x", us(now.item_length))}
    if art:
        md["mpris:artUrl"] = ("s", art)
    return {"PlaybackStatus": status(now), "Metadata": md, "CanGoNext": now.can_next,
            "CanGoPrevious": now.live, "CanPlay": now.live, "CanPause": now.live, "Volume": now.volume}


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
        def DesktopEntry(self) -> "s":
            return DESKTOP_ENTRY

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
            self.c.do(METHODS["Next"])

        @method()
        def Previous(self):
            self.c.do(METHODS["Previous"])

        @method()
        def Pause(self):
            self.c.do(METHODS["Pause"])

        @method()
        def PlayPause(self):
            self.c.do(METHODS["PlayPause"])

        @method()
        def Stop(self):
            self.c.do(METHODS["Stop"])

        @method()
        def Play(self):
            self.c.do(METHODS["Play"])

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
            return status(self.c.now())

        @dbus_property(access=READ)
        def Rate(self) -> "d":
            return 1.0

        @dbus_property()
        def Volume(self) -> "d":
            return self.c.volume

        @Volume.setter
        def Volume(self, value: "d"):
            self.c.set_volume(value)

        @dbus_property(access=READ)
        def MinimumRate(self) -> "d":
            return 1.0

        @dbus_property(access=READ)
        def MaximumRate(self) -> "d":
            return 1.0

        @dbus_property(access=READ)
        def Metadata(self) -> "a{sv}":
            md = properties(self.c.now(), self.r.album, self.r.art)["Metadata"]
            return {k: Variant(sig, v) for k, (sig, v) in md.items()}

        @dbus_property(access=READ)
        def Position(self) -> "x":
            return us(self.c.now().item_position)

        @dbus_property(access=READ)
        def CanGoNext(self) -> "b":
            return self.c.now().can_next

        @dbus_property(access=READ)
        def CanGoPrevious(self) -> "b":
            return self.c.now().live

        @dbus_property(access=READ)
        def CanPlay(self) -> "b":
            return self.c.now().live

        @dbus_property(access=READ)
        def CanPause(self) -> "b":
            return self.c.now().live

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

    def __init__(self, controller: Controller, album: str):
        self.controller = controller
        self.album = album
        self.name: str | None = None
        self.note: str | None = None
        self.ready = threading.Event()     # set once the name is owned (or it never will be)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._bus = None
        self._events: asyncio.Queue | None = None
        self._dir = tempfile.mkdtemp(prefix="sisessions-mpris-")
        self.art = ""
        self._thread = threading.Thread(target=self._run, name="sisessions-mpris", daemon=True)

    # -- the thread
    def start(self) -> "Mpris":
        self.controller.subscribe(self._told)
        self._thread.start()
        return self

    def _told(self, event: Changed) -> None:
        """A change (any thread): handed to the loop, which tells the clients."""
        loop, events = self._loop, self._events
        if loop is not None and events is not None:
            try:
                loop.call_soon_threadsafe(events.put_nowait, event)
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
        self._events = asyncio.Queue()
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
        if self.controller.now().live:
            self.note = "(the D-Bus session bus went away: media keys no longer reach this session)"

    def _write_cover(self) -> None:
        from sisessions.sources.cover import cover_png

        try:
            path = Path(self._dir) / "cover.png"
            path.write_bytes(cover_png(COVER_SIZE))
            self.art = path.as_uri()
        except OSError:  # no cover is no loss
            self.art = ""

    async def _watch(self, player) -> None:
        """Send PropertiesChanged for whatever a change changed, and Seeked after a jump."""
        from dbus_fast import Variant

        sent: dict[str, object] = {}
        now = self.controller.now()
        while True:
            props = properties(now, self.album, self.art)
            changed = {k: v for k, v in props.items() if sent.get(k) != v}
            if changed:
                if "Metadata" in changed:
                    changed["Metadata"] = {k: Variant(s, v) for k, (s, v) in changed["Metadata"].items()}
                player.emit_properties_changed(changed)
                sent = props
            event = await self._events.get()
            if event.change is Change.JUMPED:
                player.Seeked(us(event.now.item_position))
            now = self.controller.now()  # the latest state, not the event's (events may queue)

    def close(self) -> None:
        """Let clients see the end (Stopped), leave the bus, and remove the cover file."""
        loop = self._loop
        if loop is not None and self._thread.is_alive():
            self._told(Changed(Change.STOPPED, self.controller.now()))  # the feeder has stopped
            async def bye():
                await asyncio.sleep(0.15)  # the last change (Stopped) is sent first
                if self._bus is not None:
                    self._bus.disconnect()
            try:
                asyncio.run_coroutine_threadsafe(bye(), loop)
            except RuntimeError:
                pass
            self._thread.join(timeout=1.0)
        shutil.rmtree(self._dir, ignore_errors=True)


NO_BUS = "(no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set): no media keys or playerctl)"


def start(controller: Controller, album: str) -> Mpris | None:
    """The MPRIS service of this play, or None when there is no session bus to offer it on
    (then `play` is exactly as without it, and NO_BUS is the line for --debug)."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return None
    try:
        import dbus_fast  # noqa: F401
    except ImportError:
        return None
    try:
        return Mpris(controller, album).start()
    except (OSError, RuntimeError):  # no temp folder, no thread to spare: play without it
        return None
