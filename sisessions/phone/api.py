"""The companion's JSON API (SPEC §7, §8): today, the check, sessions, renders, the practice log."""
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
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # a page-made id (a UUID, a time and a counter)
PAIN_ID = ".pain"  # the pain record of a post with an id carries the id with this ending


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


def _check_note(note) -> None:
    """400 for a note that is not text, too long, or holds controls or bytes that were not
    UTF-8 (log.check_note): checked before anything is written."""
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise Bad(f"'note' must be text of at most {MAX_NOTE} characters")
    try:
        log.check_note(note)
    except UsageError as e:
        raise Bad(str(e)) from None


def _client_id(data: dict) -> str | None:
    rid = data.get("id")
    if rid is not None and not (isinstance(rid, str) and CLIENT_ID.match(rid)):
        raise Bad("'id' must be text of 1 to 64 letters, digits, '-', '_' or '.'")
    return rid


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
        """The same object as `today --json` (SPEC §8)."""
        return JSONResponse(self._today(self.library()))

    @staticmethod
    def _today(lib) -> dict:
        try:
            return app.today_decision(lib).as_json()
        except SisessionsError as e:  # no programme: the page offers the sessions instead
            return {"session": None, "title": None, "stage": None, "day": None, "days": None, "side": None,
                    "side_from": None, "light": None, "reason": str(e), "minutes": None, "refer": False}

    def sessions(self, request: Request) -> Response:
        from sisessions.plan.catalogue import catalogue

        # an invalid file is left out: `validate` names it; the page lists the rest
        return JSONResponse([{"id": e.id, "title": e.title, "minutes": round(e.seconds / 60, 1), "sided": e.sided,
                              "patterns": [{"id": p, "title": t} for p, t in e.patterns]}
                             for e in catalogue(self.library(), settings.saved_side())
                             if e.kind == "session" and e.ok])

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

    # ------------------------------------------------------------ the check and the practice log

    async def check_post(self, request: Request) -> Response:
        """POST /api/check {"result": left|right|same, "id"?}: records today's check; answers
        {"result", "today"} (201; 200 and nothing written when the id was already sent)."""
        data = await body(request)
        _only(data, {"result", "id"})
        result = data.get("result")
        if result not in log.RESULTS:
            raise Bad("'result' must be left, right or same")
        rid = _client_id(data)
        written = await anyio.to_thread.run_sync(lambda: app.record_check(result, rid=rid))
        today = await anyio.to_thread.run_sync(self._today, self.library())
        return JSONResponse({"result": result, "today": today}, 201 if written else 200)

    async def log_post(self, request: Request) -> Response:
        """POST /api/log: a session played on the phone (with its pain after it), or a pain entry
        alone ({"pain", "when"?, "note"?}). An optional client-made "id" makes it idempotent:
        sent again, the same answer with 200 and nothing written."""
        data = await body(request)
        _only(data, {"session", "completed", "minutes", "pain", "note", "side", "pace", "stopped_in", "render",
                     "when", "id"})
        rid = _client_id(data)
        when = data.get("when")
        if when is not None and when not in log.WHEN:
            raise Bad("'when' must be after, morning or other")
        if "session" not in data and "pain" in data:
            return await self._pain_only(data, when or "other", rid)
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
        _check_note(note)
        side = data.get("side", settings.saved_side())
        if side not in (None, "left", "right", "both"):
            raise Bad("'side' must be left, right or both")
        try:  # the pace it was played with, checked as the session choice is
            pace = Choices.from_json({"pace": data.get("pace")}).pace
        except UsageError as e:
            raise Bad(str(e)) from None
        stopped = data.get("stopped_in")
        if stopped is not None and not (isinstance(stopped, str) and SESSION_ID.match(stopped)):
            raise Bad("'stopped_in' must be a pattern id")
        records = [log.play_record(session, side, pace, "companion", completed, stopped, minutes, id=rid)]
        if pain is not None:  # given with the session: after it, unless the page says otherwise
            records.append(log.pain_record(pain, note, when=when or "after",
                                           id=None if rid is None else rid + PAIN_ID))
        return await self._write(records)

    async def _pain_only(self, data: dict, when: str, rid: str | None) -> Response:
        pain, note = data.get("pain"), data.get("note")
        if isinstance(pain, bool) or not isinstance(pain, int) or not 0 <= pain <= 10:
            raise Bad("'pain' must be a whole number from 0 to 10")
        _check_note(note)
        return await self._write([log.pain_record(pain, note, when=when, id=rid)])

    @staticmethod
    async def _write(records: list) -> Response:
        """Write the records (all checked: nothing is written for bad input); each record with
        an id already in the log is left out, so a post sent twice is written once."""
        written = await anyio.to_thread.run_sync(log.append_all, records)  # one write: all or none
        return JSONResponse({"written": len(records)}, 201 if written else 200)

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
                         "sessions": [p.session for p in day.plays], "pain": day.pain,
                         "pain_after": day.pain_after, "pain_morning": day.pain_morning,
                         "check": day.check})
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
