"""The companion's renders: one MP3 with chapters and a .vtt per choice of options, made one at a
time in a background thread through the same pipeline and cache as `export`, kept in the user
data folder (the newest few per session)."""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import queue
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sisessions import app, paths
from sisessions.errors import SisessionsError
from sisessions.fileio import atomic_write_text, clean_stale_parts, private_dir, read_regular, temp_dir

KEEP = 3                       # renders kept per session; older ones are removed...
IN_USE = 24 * 3600             # ...unless a page asked for them within this many seconds
META = "render.json"
ID = re.compile(r"^[0-9a-f]{20}$")


MAX_META = 1 << 20
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _sound(m) -> bool:
    """Whether a render.json holds every field the API, the media and the feed read."""
    if not isinstance(m, dict):
        return False
    names = m.get("audio"), m.get("transcript")
    return (all(isinstance(n, str) and _FILE_NAME.match(n) for n in names)
            and all(isinstance(m.get(k), str) for k in ("session", "title"))
            and m.get("side") in (None, "left", "right", "both")  # both: a check that could not tell
            and _number(m.get("duration")) and _number(m.get("made"))
            and isinstance(m.get("chapters"), list)
            and all(isinstance(c, dict) and isinstance(c.get("title"), str) and _number(c.get("start"))
                    for c in m["chapters"]))


def root() -> Path:
    return paths.data_dir() / "companion"


@dataclass(frozen=True)
class Order:
    """What the page asked for (SPEC §7 POST /api/render), already checked."""

    session: str
    choices: app.Choices = app.Choices()


def render_id(prepared: app.Prepared, choices: app.Choices) -> str:
    """The same id for the same session text and options, so a reload finds its render; a change
    to the script (its expanded events) or to the options is a new render."""
    key = repr((prepared.session.id, prepared.opts, prepared.events, choices))
    return hashlib.sha256(key.encode()).hexdigest()[:20]


class Renders:
    """Renders in the background, one at a time; state by id survives a page reload."""

    def __init__(self, scripts: tuple[str, ...] = (), cache_dir: str | None = None, keep: int = KEEP,
                 engine: str | None = None, in_use: float = IN_USE):
        self.scripts, self.cache_dir, self.keep, self.engine = scripts, cache_dir, keep, engine
        self.in_use = in_use
        self.lock = threading.Lock()
        self.working: dict[str, str] = {}      # id -> "working" (queued or being made)
        self.failed: dict[str, str] = {}       # id -> one sentence
        self.used: dict[str, float] = {}       # id -> when a page last asked for it (monotonic)
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._worker, name="companion-render", daemon=True)
        self.thread.start()

    # ------------------------------------------------------------ asking

    def order(self, order: Order) -> dict:
        """Start (or find) the render for `order`; SisessionsError for a bad session or option."""
        library = app.open_library(self.scripts)
        choices = dataclasses.replace(order.choices, engine=self.engine)
        prepared = app.prepare(library, order.session, choices)
        rid = render_id(prepared, choices)
        self.used[rid] = time.monotonic()
        with self.lock:
            done = self.state(rid)
            if done["state"] in ("ready", "working"):
                return done
            self.failed.pop(rid, None)
            self.working[rid] = "working"
        self.jobs.put((rid, prepared, choices))
        return {"id": rid, "state": "working"}

    def state(self, rid: str) -> dict:
        """SPEC §7's render object, or {"state": "unknown"}."""
        if not ID.match(rid):
            return {"id": rid, "state": "unknown"}
        if rid in self.working:
            return {"id": rid, "state": "working"}
        if rid in self.failed:
            return {"id": rid, "state": "failed", "error": self.failed[rid]}
        meta = self.meta(rid)
        if meta is None:
            return {"id": rid, "state": "unknown"}
        self.used[rid] = time.monotonic()
        return {"id": rid, "state": "ready", "audio": f"/media/{rid}/{meta['audio']}",
                "transcript": f"/media/{rid}/{meta['transcript']}", "duration": meta["duration"],
                "chapters": meta["chapters"], "session": meta["session"], "title": meta["title"],
                "side": meta["side"]}

    def meta(self, rid: str) -> dict | None:
        """A finished render's metadata, or None when there is none or it is damaged (a
        missing key, a wrong type): such a render is unknown, never a failure of the others."""
        if not ID.match(rid):
            return None
        try:
            data = json.loads(read_regular(root() / rid / META, MAX_META).decode("utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        return data if _sound(data) else None

    def ready(self) -> list[tuple[str, dict]]:
        """(id, meta) of every finished render, newest first."""
        out = []
        base = root()
        for d in base.iterdir() if base.is_dir() else ():
            m = self.meta(d.name)
            if m is not None:
                out.append((d.name, m))
        out.sort(key=lambda x: x[1].get("made", 0), reverse=True)
        return out

    def file(self, rid: str, name: str) -> Path | None:
        """A file of a finished render, by the names its meta lists (nothing else is served)."""
        meta = self.meta(rid)
        if meta is None or name not in (meta["audio"], meta["transcript"], "chapters.json"):
            return None
        return root() / rid / name

    def wait(self, rid: str, timeout: float = 600) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.state(rid)
            if s["state"] != "working":
                return s
            time.sleep(0.05)
        return self.state(rid)

    # ------------------------------------------------------------ making

    def _worker(self) -> None:
        while True:
            rid, prepared, choices = self.jobs.get()
            try:
                self._make(rid, prepared, choices)
                with contextlib.suppress(OSError):  # before it is told ready: then the older ones are gone
                    self._tidy(prepared.session.id)
                with self.lock:
                    self.working.pop(rid, None)
            except Exception as e:  # noqa: BLE001 - the page gets one sentence; the server goes on
                msg = str(e) if isinstance(e, SisessionsError) else f"the render failed ({type(e).__name__}: {e})"
                with self.lock:
                    self.working.pop(rid, None)
                    self.failed[rid] = msg

    def _make(self, rid: str, prepared: app.Prepared, choices: app.Choices) -> None:
        from sisessions.output.chapters import chapters, json_chapters

        base = private_dir(root())
        clean_stale_parts(base, dirs=True)  # what a killed render left
        with temp_dir(base / rid) as tmp:
            with app.speech_session(choices, self.cache_dir) as speech:
                tl = app.plan(prepared, speech)
                name = f"{tl.session}-{tl.side}.mp3" if tl.side else f"{tl.session}.mp3"
                # the one export path, as `export -o FILE.mp3` (chapters, tags, .vtt, the bed)
                app.export(tl, speech, app.export_request(prepared, output=str(tmp / name)))
            parts = chapters(tl)
            chs = [{"title": c.title, "start": round(c.start / tl.rate, 3)} for c in parts]
            triples = [(c.start / tl.rate, c.end / tl.rate, c.title) for c in parts]
            atomic_write_text(tmp / "chapters.json", json_chapters(triples, name, tl.title))
            meta = {"session": tl.session, "title": tl.title, "side": tl.side, "audio": name,
                    "transcript": Path(name).with_suffix(".vtt").name, "duration": round(tl.seconds, 3),
                    "chapters": chs, "made": time.time()}
            atomic_write_text(tmp / META, json.dumps(meta, indent=1) + "\n")
            os.chmod(tmp, 0o700)  # health data: this user's only (whatever temp_dir's mode)
            target = base / rid
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)

    def _tidy(self, session: str) -> None:
        """Keep the newest `keep` renders of `session`, and every render a page asked about
        lately (another phone's newer renders must not take one away from under a tab that is
        playing it); only folders with our render.json go."""
        now = time.monotonic()
        mine = [(rid, m) for rid, m in self.ready() if m.get("session") == session]
        for rid, _m in mine[self.keep:]:
            if rid in self.used and now - self.used[rid] < self.in_use:
                continue
            shutil.rmtree(root() / rid, ignore_errors=True)
            self.used.pop(rid, None)
