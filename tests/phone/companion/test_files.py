"""The phone companion's files (SPEC §7) over HTTP: audio with ranges and validators, nothing else
served, the feed of its renders; the renders kept, the command's own output, a bed by name."""
from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
import urllib.parse

import feedparser
import pytest

from tests.conftest import FIXTURES
from tests.phone.helpers import log_lines


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
