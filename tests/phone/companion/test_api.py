"""The phone companion (SPEC §7) as the phone meets it: the real `sisessions companion` command
(uvicorn on 127.0.0.1) spoken to over HTTP: its token, and its API (today, sessions, renders, the log)."""
from __future__ import annotations

import select
import socket
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.phone.helpers import LIBS, Companion, begun, log_lines


# ---------------------------------------------------------------- the token


def test_the_token_is_kept_0600_and_stays_until_new_token(comp, home):
    f = Path(home["XDG_CONFIG_HOME"]) / "sisessions" / "companion-token"
    assert f.read_text().strip() == comp.token
    assert f.stat().st_mode & 0o777 == 0o600
    assert len(comp.token) >= 22  # >= 128 random bits in URL-safe base64
    again = Companion(home)
    try:
        assert again.token == comp.token
    finally:
        again.stop()
    other_home = dict(home, XDG_CONFIG_HOME=str(Path(home["XDG_CONFIG_HOME"]).parent / "config2"))
    Path(other_home["XDG_CONFIG_HOME"]).mkdir(exist_ok=True)
    a = Companion(other_home)
    a.stop()
    b = Companion(other_home, "--new-token")
    b.stop()
    assert a.token != b.token != comp.token


def test_every_path_without_the_token_is_401(comp, ready):
    before = log_lines(comp.env)
    paths = ["/", "/?session=short", "/api/today", "/api/sessions", "/api/log?days=7", f"/api/render/{ready['id']}",
             ready["audio"], ready["transcript"], "/feed.xml", "/cover.png", "/nothing", "/api/nothing",
             "/../../etc/passwd"]
    with comp.client() as c:
        for p in paths:
            for how in ({}, {"params": {"t": "wrong" + comp.token[5:]}},
                        {"headers": {"Authorization": "Bearer nope"}}, {"headers": {"Cookie": "sisessions=nope"}}):
                r = c.get(p, **how)
                assert r.status_code == 401, (p, how, r.status_code)
                assert comp.token not in r.text and b"ID3" not in r.content
        for p in ("/api/log", "/api/render", "/api/settings"):
            r = c.post(p, json={"session": "short", "completed": True, "minutes": 1})
            assert r.status_code == 401
            assert r.json() == {"error": "This needs the companion's token: open the address it printed."}
    assert log_lines(comp.env) == before


def test_the_token_in_the_address_becomes_a_strict_cookie_and_leaves_the_address(comp):
    with comp.client() as c:
        r = c.get("/", params={"t": comp.token, "session": "short"})
        assert r.status_code == 303 and r.headers["location"] == "/?session=short"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
        r = c.get("/?session=short")  # httpx keeps the cookie
        assert r.status_code == 200 and 'data-action="play"' in r.text
        assert r.headers["cache-control"] == "no-store" and "access-control-allow-origin" not in r.headers
        assert "default-src 'none'" in r.headers["content-security-policy"]


# ---------------------------------------------------------------- the API


def test_today_and_sessions(comp):
    with comp.authed() as h:
        t = h.get("/api/today").json()
        assert t["session"] == "first" and t["title"] == "The first stage" and "stage 1 of 2" in t["reason"]
        assert t["side"] is None
        s = {x["id"]: x for x in h.get("/api/sessions").json()}
        assert {"id": "short", "title": "Short Practice", "sided": True} == {k: s["short"][k] for k in ("id", "title", "sided")}
        assert 0.3 < s["short"]["minutes"] < 3 and s["first"]["sided"] is False


def test_a_render_is_the_export_pipeline_and_is_found_again(comp, ready):
    assert ready["chapters"][0] == {"title": "Introduction", "start": 0.0}
    assert [c["title"] for c in ready["chapters"]] == ["Introduction", "Knee Sway", "Side Reach (left side)",
                                                        "Side Reach (right side)", "Closing"]
    with comp.authed() as h:
        again = h.post("/api/render", json={"session": "short", "side": "left"})  # a page reload
        assert again.status_code == 200 and again.json()["id"] == ready["id"] and again.json()["state"] == "ready"
        other = h.post("/api/render", json={"session": "short", "side": "right"}).json()
        assert other["id"] != ready["id"]
        assert h.get("/api/render/0123456789abcdef0123").status_code == 404
        mp3 = h.get(ready["audio"])
        vtt = h.get(ready["transcript"])
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    assert vtt.headers["content-type"].startswith("text/vtt") and vtt.text.startswith("WEBVTT")
    import io

    from mutagen.mp3 import MP3

    audio = MP3(io.BytesIO(mp3.content))
    assert abs(audio.info.length - ready["duration"]) < 0.2
    assert len(audio.tags.getall("CHAP")) == len(ready["chapters"])


BAD = [
    ("not json", "text/plain", 400),
    ('{"session": "short", "completed": true, "minutes": 1', "application/json", 400),
    ('{"session": "short", "completed": true, "minutes": 1, "pain": 11}', "application/json", 400),
    ('{"session": "short", "completed": true, "minutes": 1, "pain": -1}', "application/json", 400),
    ('{"session": "short", "completed": true, "minutes": 1, "pain": 3.5}', "application/json", 400),
    ('{"session": "short", "completed": true, "minutes": 1, "pain": "3"}', "application/json", 400),
    ('{"session": "short", "completed": true, "minutes": 1, "pain": true}', "application/json", 400),
    ('{"session": "short", "completed": true, "minutes": 1, "note": "' + "x" * 501 + '"}', "application/json", 400),
    ('{"session": "nope", "completed": true, "minutes": 1}', "application/json", 400),
    ('{"session": "../../etc/passwd", "completed": true, "minutes": 1}', "application/json", 400),
    ('{"session": "short", "completed": "yes", "minutes": 1}', "application/json", 400),
    ('{"session": "short", "completed": true, "minutes": NaN}', "application/json", 400),
    ('{"session": "short", "completed": true}', "application/json", 400),
    ('{"session": "short", "completed": true, "minutes": 1, "side": "up"}', "application/json", 400),
    ('{"session": "short", "completed": true, "minutes": 1, "pace": 9}', "application/json", 400),
    ('["short"]', "application/json", 400),
    ('session=short&completed=true&minutes=1', "application/x-www-form-urlencoded", 400),  # a form from another site
]


@pytest.mark.parametrize("body, ctype, status", BAD)
def test_bad_log_input_is_refused_and_nothing_is_written(comp, body, ctype, status):
    before = log_lines(comp.env)
    with comp.authed() as h:
        r = h.post("/api/log", content=body.encode(), headers={"Content-Type": ctype})
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and r.json()["error"].endswith(".")
    assert log_lines(comp.env) == before


@pytest.mark.parametrize("body", [{"session": "nope"}, {"session": "short", "side": "up"},
                                  {"session": "short", "pace": 9}, {"session": "short", "minutes": 0},
                                  {"session": "short", "skip": "knee-sway"}, {"session": "short", "speed": 2}])
def test_bad_render_input_is_400(comp, body):
    with comp.authed() as h:
        r = h.post("/api/render", json=body)
    assert r.status_code == 400 and set(r.json()) == {"error"}


def _post_big(port: int, token: str, chunked: bool) -> bytes:
    """POST 10 MB to /api/log (declared, or chunked), stopping as soon as the server answers."""
    size = 10 * 1024 * 1024
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        s.sendall((f"POST /api/log HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                   f"Content-Type: application/json\r\n{length}\r\n\r\n").encode())
        piece = b'{"note": "' + b"x" * 65000
        sent = 0
        try:
            while sent < size and not select.select([s], [], [], 0)[0]:
                data = (b"%x\r\n%s\r\n" % (len(piece), piece)) if chunked else piece
                s.sendall(data)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return s.recv(4096)
    finally:
        s.close()


@pytest.mark.parametrize("chunked", [False, True])
def test_a_10_mb_body_is_413_and_nothing_is_written(comp, chunked):
    before = log_lines(comp.env)
    head = _post_big(comp.port, comp.token, chunked)
    assert head.startswith(b"HTTP/1.1 413 "), head[:200]
    assert log_lines(comp.env) == before


def test_a_good_log_post_writes_what_play_writes_and_today_and_log_count_it(tmp_path, shared_cache):
    env = begun(tmp_path, shared_cache)
    with Companion(env) as c, c.authed() as h:
        r = h.post("/api/log", json={"session": "first", "completed": True, "minutes": 0.5, "pain": 3,
                                     "note": "easier today"})
        assert r.status_code == 201, r.text
        days = h.get("/api/log", params={"days": 7}).json()
        assert h.get("/api/log", params={"days": "x"}).status_code == 400
    play, pain = log_lines(env)
    assert play == {"kind": "play", "time": play["time"], "session": "first", "side": None, "pace": 1.0,
                    "engine": "companion", "completed": True, "stopped_in": None, "minutes": 0.5}
    assert pain == {"kind": "pain", "time": pain["time"], "pain": 3, "note": "easier today", "when": "after"}
    assert days["streak"] == 1 and days["show_streak"] is True and len(days["days"]) == 7
    assert days["days"][-1]["practised"] is True and days["days"][-1]["pain"] == 3
    assert days["days"][-1]["sessions"] == ["first"]
    today = run_cli(*LIBS, "today", env=env, check=0).stdout
    assert "day 2 of 2" in today and "1 day of first done" in today
    log = run_cli(*LIBS, "log", env=env, check=0).stdout
    assert "pain after 3/10" in log and "Streak: 1 day in a row" in log
