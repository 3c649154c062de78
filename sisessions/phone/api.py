"""The companion's JSON API (SPEC §7): today, sessions, renders, the practice log."""
from __future__ import annotations

import datetime as dt
import json
import math
import re

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sisessions import app
from sisessions.choices import ID, Choices
from sisessions.errors import OptionError, SisessionsError, UsageError, sentence
from sisessions.phone.renders import Order, Renders
from sisessions.practice import log, settings

MAX_BODY = 16 * 1024          # bytes: every body the page sends is far smaller
BODY_TIMEOUT = 10.0           # seconds for a body to arrive in full
MAX_NOTE = 500
SESSION_ID = ID                # a session or pattern id, as the page sends it


class Bad(Exception):
    """Bad input: answered with its status and one sentence, nothing written."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": sentence(message)}, status)


def said(e: SisessionsError) -> str:
    """A core error as the phone should read it: a field's name, never a command-line option."""
    return e.for_field() if isinstance(e, OptionError) else str(e)


async def body(request: Request) -> dict:
    """The request's JSON object; Bad (400, 413) for anything else. Read in bounded pieces, so a
    huge body is refused after MAX_BODY bytes, and within BODY_TIMEOUT, so a half-sent one ends."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise Bad("send the body as JSON (Content-Type: application/json)")
    length = request.headers.get("content-length")
    if length is not None and (not re.fullmatch(r"[0-9]+", length) or int(length) > MAX_BODY):
        raise Bad("the request body is too large", 413)
    data = bytearray()
    try:
        with anyio.fail_after(BODY_TIMEOUT):
            async for chunk in request.stream():
                data += chunk
                if len(data) > MAX_BODY:
                    raise Bad("the request body is too large", 413)
    except TimeoutError:
        raise Bad("the request body did not arrive in time", 408) from None
    try:
        value = json.loads(bytes(data).decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise Bad("the body is not valid JSON") from None
    except RecursionError:
        raise Bad("the body is nested too deeply") from None
    if not isinstance(value, dict):
        raise Bad("the body must be a JSON object")
    try:  # a lone surrogate (\ud800) parses, but is no text: refused before anything is written
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Bad("the body holds text that is not valid Unicode") from None
    except RecursionError:
        raise Bad("the body is nested too deeply") from None
    return value


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _number(data: dict, key: str, low: float, high: float, default=None):
    v = data.get(key, default)
    if v is None or v is default:
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low <= v <= high:
        raise Bad(f"'{key}' must be a number from {low:g} to {high:g}")
    return float(v)


def _known_session(library, name) -> str:
    if not isinstance(name, str) or not SESSION_ID.match(name):
        raise Bad("'session' must be the id of a session")
    if name not in library.sessions and name not in library.patterns:
        raise Bad(f"there is no session '{name}'")
    return name


def _only(data: dict, keys: set[str]) -> None:
    unknown = sorted(set(data) - keys)
    if unknown:
        raise Bad(f"unknown field '{unknown[0]}'")


class Api:
    def __init__(self, scripts: tuple[str, ...], renders: Renders):
        self.scripts = scripts
        self.renders = renders

    def library(self):
        return app.open_library(self.scripts)

    # ------------------------------------------------------------ GET /api/today, /api/sessions

    def today(self, request: Request) -> Response:
        from sisessions.practice.today import today

        lib = self.library()
        side = settings.saved_side()
        try:
            t, _warnings = today(lib)
        except SisessionsError as e:  # no programme: the page offers the sessions instead
            return JSONResponse({"session": None, "title": None, "reason": str(e), "side": side})
        title = lib.session(t.session).title
        return JSONResponse({"session": t.session, "title": title, "reason": t.why(), "side": side})

    def sessions(self, request: Request) -> Response:
        from sisessions.plan.timeline import PlanOptions, estimated

        lib = self.library()
        side = settings.saved_side() or "left"
        out = []
        for sid in sorted(lib.sessions):
            try:
                s = lib.session(sid)
                tl = estimated(s, lib, PlanOptions(side=side))
            except SisessionsError:
                continue  # an invalid file: `validate` names it; the page lists the rest
            patterns = list(dict.fromkeys(c.pattern for c in tl.cues if c.pattern))
            out.append({"id": sid, "title": s.title, "minutes": round(tl.seconds / 60, 1),
                        "sided": any(c.side for c in tl.cues),
                        "patterns": [{"id": p, "title": tl.titles.get(p, p)} for p in patterns]})
        return JSONResponse(out)

    # ------------------------------------------------------------ renders

    async def render(self, request: Request) -> Response:
        data = await body(request)
        _only(data, {"session"} | Choices.api_names())
        lib = self.library()
        session = _known_session(lib, data.get("session"))
        try:
            order = Order(session, Choices.from_json(data))
        except UsageError as e:
            raise Bad(str(e)) from None
        try:
            state = await anyio.to_thread.run_sync(self.renders.order, order)
        except SisessionsError as e:
            raise Bad(said(e), 400 if e.exit_code == 2 else 500) from e
        return JSONResponse(state, 200 if state["state"] == "ready" else 202)

    def render_state(self, request: Request) -> Response:
        state = self.renders.state(request.path_params["rid"])
        if state["state"] == "unknown":
            return error("there is no such render", 404)
        return JSONResponse(state)

    # ------------------------------------------------------------ the practice log

    async def log_post(self, request: Request) -> Response:
        data = await body(request)
        _only(data, {"session", "completed", "minutes", "pain", "note", "side", "pace", "stopped_in", "render"})
        lib = self.library()
        session = _known_session(lib, data.get("session"))
        completed = data.get("completed")
        if not isinstance(completed, bool):
            raise Bad("'completed' must be true or false")
        minutes = _number(data, "minutes", 0, 600)
        if minutes is None:
            raise Bad("'minutes' is needed: how long the session was played")
        pain = data.get("pain")
        if pain is not None and (isinstance(pain, bool) or not isinstance(pain, int) or not 0 <= pain <= 10):
            raise Bad("'pain' must be a whole number from 0 to 10")
        note = data.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            raise Bad(f"'note' must be text of at most {MAX_NOTE} characters")
        try:
            note = log.check_note(note)
        except SisessionsError as e:
            raise Bad(str(e)) from e
        side = data.get("side", settings.saved_side())
        if side not in (None, "left", "right"):
            raise Bad("'side' must be left or right")
        pace = _number(data, "pace", 0.5, 3.0, 1.0) or 1.0
        stopped = data.get("stopped_in")
        if stopped is not None and not (isinstance(stopped, str) and SESSION_ID.match(stopped)):
            raise Bad("'stopped_in' must be a pattern id")
        records = [log.play_record(session, side, pace, "companion", completed, stopped, minutes)]
        if pain is not None:
            records.append(log.pain_record(pain, note, when="after"))  # given with the session: after it
        log.append_all(records)  # all checked above, written in one piece: nothing half-written
        return JSONResponse({"written": len(records)}, 201)

    def log_get(self, request: Request) -> Response:
        raw = request.query_params.get("days", "28")
        if not re.fullmatch(r"[0-9]{1,3}", raw) or not 1 <= int(raw) <= 366:  # not isdigit: "²" is one
            raise Bad("'days' must be a whole number from 1 to 366")
        n = int(raw)
        records, _warnings = log.read()
        table = log.by_day(records)
        today = dt.date.today()
        days = []
        for k in range(n - 1, -1, -1):
            d = today - dt.timedelta(days=k)
            day = table.get(d, log.Day(d))
            days.append({"date": d.isoformat(), "practised": day.practised,
                         "sessions": [p.session for p in day.plays], "pain": day.pain})
        return JSONResponse({"days": days, "streak": log.streak(records, today),
                             "show_streak": settings.show_streak()})

    async def settings_post(self, request: Request) -> Response:
        """Extension: the page's own settings (hide the streak)."""
        data = await body(request)
        _only(data, {"show_streak"})
        if not isinstance(data.get("show_streak"), bool):
            raise Bad("'show_streak' must be true or false")
        settings.save_value("show_streak", data["show_streak"])
        return JSONResponse({"show_streak": data["show_streak"]})
