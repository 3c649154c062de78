"""The phone companion (SPEC §7) as the phone meets it: the real `sisessions companion` command
(uvicorn on 127.0.0.1), spoken to over HTTP, and its page driven in a real headless Chromium."""
from __future__ import annotations

import json
import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.conftest import FIXTURES, run_cli
from tests.test_phone import module_env

LIBS = ("--scripts", FIXTURES / "phone", "--scripts", FIXTURES / "morning")


class Companion:
    """`sisessions companion --port 0` in its own home; stopped with Ctrl-C at the end."""

    def __init__(self, env: dict, *args, host: str = "127.0.0.1"):
        e = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
        e.update(env, PYTHONUNBUFFERED="1")
        self.env = env
        where = ("--host", host) if host != "127.0.0.1" else ()
        self.proc = subprocess.Popen([sys.executable, "-m", "sisessions", *map(str, LIBS), "companion",
                                      "--port", "0", *where, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=e)
        self.line = self.proc.stdout.readline().strip()
        m = re.fullmatch(rf"Open on your phone: http://{re.escape(host)}:(\d+)/\?t=([A-Za-z0-9_-]+)", self.line)
        assert m, (self.line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.port, self.token = int(m[1]), m[2]
        self.base = f"http://{host}:{self.port}"

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60, follow_redirects=False, **kw)

    def authed(self) -> httpx.Client:
        return self.client(headers={"Authorization": f"Bearer {self.token}"})

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stderr.read()


@pytest.fixture(scope="module")
def home(tmp_path_factory, shared_cache):
    root = tmp_path_factory.mktemp("companion")
    env = module_env(root, shared_cache)
    run_cli(*LIBS, "today", "--program", "steps", env=env, check=0)
    return env


@pytest.fixture(scope="module")
def comp(home):
    c = Companion(home)
    try:
        yield c
    finally:
        err = c.stop()
        assert "Traceback" not in err, err


@pytest.fixture(scope="module")
def ready(comp):
    """The fixture session rendered through the API (real speech, real MP3)."""
    with comp.authed() as h:
        r = h.post("/api/render", json={"session": "short", "side": "left"})
        assert r.status_code in (200, 202), r.text
        rid = r.json()["id"]
        for _ in range(600):
            state = h.get(f"/api/render/{rid}").json()
            if state["state"] != "working":
                break
            time.sleep(0.2)
    assert state["state"] == "ready", state
    return state


def wait_for(fn, timeout=120, every=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(every)
    raise AssertionError("timed out waiting")


def log_lines(env: dict) -> list[dict]:
    f = Path(env["XDG_DATA_HOME"]) / "sisessions" / "practice.jsonl"
    return [json.loads(x) for x in f.read_text().splitlines()] if f.exists() else []


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
    env = module_env(tmp_path, shared_cache)
    run_cli(*LIBS, "today", "--program", "steps", env=env, check=0)
    c = Companion(env)
    try:
        with c.authed() as h:
            r = h.post("/api/log", json={"session": "first", "completed": True, "minutes": 0.5, "pain": 3,
                                         "note": "easier today"})
            assert r.status_code == 201, r.text
            days = h.get("/api/log", params={"days": 7}).json()
            assert h.get("/api/log", params={"days": "x"}).status_code == 400
    finally:
        c.stop()
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


# ---------------------------------------------------------------- files


def test_audio_answers_ranges_validators_and_304(comp, ready):
    with comp.authed() as h:
        full = h.get(ready["audio"])
        data, etag, modified = full.content, full.headers["etag"], full.headers["last-modified"]
        assert full.headers["accept-ranges"] == "bytes" and int(full.headers["content-length"]) == len(data)
        r = h.get(ready["audio"], headers={"Range": "bytes=100-1099"})
        assert r.status_code == 206 and r.content == data[100:1100]
        assert r.headers["content-range"] == f"bytes 100-1099/{len(data)}"
        assert h.get(ready["audio"], headers={"Range": "bytes=-500"}).content == data[-500:]
        assert h.get(ready["audio"], headers={"If-None-Match": etag}).status_code == 304
        assert h.get(ready["audio"], headers={"If-Modified-Since": modified}).status_code == 304
        r = h.get(ready["audio"], headers={"Range": "bytes=10-19", "If-Range": etag})
        assert r.status_code == 206 and r.content == data[10:20]
        r = h.get(ready["audio"], headers={"Range": "bytes=10-19", "If-Range": '"an-older-file"'})
        assert r.status_code == 200 and r.content == data  # never an old head with a new tail
        for bad in (f"bytes={len(data)}-", "bytes=-0", "bytes=" + "9" * 5000 + "-"):
            r = h.get(ready["audio"], headers={"Range": bad})
            assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"
        r = h.get(ready["audio"], headers={"Range": "bytes=0-" + "9" * 5000})
        assert r.status_code == 206 and r.content == data


@pytest.mark.parametrize("path", [
    "/media/../../../etc/passwd",
    "/media/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/media/%252e%252e/%252e%252e/etc/passwd",
    "/media/ID/..%2F..%2F..%2Fconfig%2Fsisessions%2Fcompanion-token",
    "/media/ID/%2e%2e%2frender.json",
    "/media/ID/render.json",
    "/media/ID/%2Fetc%2Fpasswd",
    "//etc/passwd",
    "/%2Fetc%2Fpasswd",
    "http://127.0.0.1/../../etc/passwd",
    "/page.html",
    "/media/ID/" + "a" * 300 + ".mp3",
])
def test_traversal_and_other_files_are_404(comp, ready, path):
    path = path.replace("ID", ready["id"])
    s = socket.create_connection(("127.0.0.1", comp.port), timeout=10)  # sent exactly as written
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {comp.token}\r\n"
                  "Connection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    finally:
        s.close()
    status = int(answer.split(b" ", 2)[1])
    assert status in (404, 414), (path, answer[:300])
    assert b"root:" not in answer and comp.token.encode() not in answer


def test_the_feed_lists_renders_with_the_token_and_a_transcript(comp, ready):
    with comp.client() as c:
        body = c.get("/feed.xml", params={"t": comp.token}).content
        f = feedparser.parse(body)
        assert not f.bozo, f.bozo_exception
        (entry,) = [e for e in f.entries if ready["id"] in e.enclosures[0].href]
        href = entry.enclosures[0].href
        assert urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)["t"] == [comp.token]
        r = c.get(href, headers={"Range": "bytes=0-2"})  # a podcast app: no cookie, token in the URL
        assert r.status_code == 206 and r.content == b"ID3"
        assert "set-cookie" not in r.headers
    root = __import__("xml.etree.ElementTree", fromlist=["x"]).fromstring(body)
    tr = root.find("./channel/item/{https://podcastindex.org/namespace/1.0}transcript").attrib
    assert tr["type"] == "text/vtt" and tr["url"].split("?")[0].endswith(".vtt")


def test_no_cors_and_no_other_methods(comp):
    before = log_lines(comp.env)
    with comp.authed() as h:
        r = h.options("/api/log", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
        assert r.status_code in (404, 405) and "access-control-allow-origin" not in r.headers
        r = h.post("/api/log", json={"session": "short", "completed": True, "minutes": 1},
                   headers={"Origin": "http://evil.example", "Content-Type": "text/plain"})
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
        assert h.delete("/api/log").status_code == 405
    assert log_lines(comp.env) == before


# ---------------------------------------------------------------- renders and the command's output


def test_renders_keep_the_newest_few_per_session_and_only_their_own_folders(tmp_path):
    from sisessions.choices import Choices
    from sisessions.phone import renders as rs

    made = rs.Renders(scripts=(str(FIXTURES / "phone"),), keep=2, in_use=0)  # none kept for a page
    mine = rs.root() / "notes.txt"
    mine.parent.mkdir(parents=True, exist_ok=True)
    mine.write_text("mine")
    ids = []
    for pace in (1.0, 1.25, 1.5):
        first = made.order(order := rs.Order("short", Choices(side="left", pace=pace)))
        assert first["state"] == "working" and made.order(order)["id"] == first["id"]  # a reload
        done = made.wait(first["id"])
        assert done["state"] == "ready", done
        ids.append(first["id"])
        time.sleep(0.01)
    left = sorted(p.name for p in rs.root().iterdir() if not p.name.startswith("."))
    assert left == sorted(ids[1:] + ["notes.txt"])
    assert made.state(ids[0])["state"] == "unknown"
    assert made.file(ids[2], "render.json") is None and made.file(ids[2], "../notes.txt") is None


def test_the_command_prints_a_qr_code_in_a_terminal_only(home):
    import pty

    main, sub = pty.openpty()
    e = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
    e.update(home)
    proc = subprocess.Popen([sys.executable, "-m", "sisessions", "companion", "--port", "0"],
                            stdout=sub, stderr=subprocess.PIPE, env=e)
    os.close(sub)
    out = b""
    try:
        while out.count(b"\n") < 10:
            ready_to_read, _, _ = select.select([main], [], [], 30)
            assert ready_to_read, out
            out += os.read(main, 65536)
    finally:
        proc.send_signal(2)
        proc.wait(15)
        os.close(main)
    text = out.decode(errors="replace")  # a read can end inside a block character
    assert text.startswith("Open on your phone: http://127.0.0.1:")
    assert "\u2588" in text or "\u2580" in text or "\u2584" in text  # the QR code's blocks
    assert b"network" not in proc.stderr.read()  # on 127.0.0.1: no warning


def test_a_bed_is_chosen_by_name_only(comp, ready):
    with comp.authed() as h:
        assert h.post("/api/render", json={"session": "short", "side": "left", "bed": "/etc/passwd"}).status_code == 400
        assert h.post("/api/render", json={"session": "short", "side": "left", "bed": "../x.wav"}).status_code == 400
        r = h.post("/api/render", json={"session": "short", "side": "left", "bed": "brown"})
        assert r.status_code == 202 and r.json()["id"] != ready["id"]
        for _ in range(600):
            state = h.get(f"/api/render/{r.json()['id']}").json()
            if state["state"] != "working":
                break
            time.sleep(0.2)
    assert state["state"] == "ready" and abs(state["duration"] - ready["duration"]) < 0.05
