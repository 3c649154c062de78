"""`serve` and the companion under hostile requests (issue 23): never a 500 or a broken answer,
always a clear 4xx (or a one-sentence JSON 5xx when the disk fails); ranges as RFC 9110 says,
seen by real clients (httpx and curl); the Host checked; the bed a name, never a path."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import module_env, run_cli
from tests import nobody
from tests.disk import fill, tiny_disk
from tests.phone.helpers import Companion


@pytest.fixture(scope="module")
def home(tmp_path_factory, shared_cache):
    return module_env(tmp_path_factory.mktemp("hostile-companion"), shared_cache)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """The companion's working folder, holding an audio file a bed field must never reach."""
    d = tmp_path_factory.mktemp("cwd")
    subprocess.run(["/usr/bin/ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=300:duration=4",
                    "-ar", "22050", "-ac", "1", str(d / "rain.wav")], check=True)
    return d


@pytest.fixture(scope="module")
def comp(home, workdir):
    c = Companion(home, cwd=workdir)
    try:
        yield c
    finally:
        c.stop()


def render(h: httpx.Client, **order) -> dict:
    r = h.post("/api/render", json={"session": "short", "side": "left", **order})
    assert r.status_code in (200, 202), r.text
    rid = r.json()["id"]
    for _ in range(1200):
        state = h.get(f"/api/render/{rid}").json()
        if state["state"] != "working":
            return state
        time.sleep(0.1)
    raise AssertionError(state)


def log_file(env: dict) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "sisessions" / "practice.jsonl"


def one_sentence(r: httpx.Response, status) -> str:
    assert r.status_code in (status if isinstance(status, tuple) else (status,)), (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json"
    msg = r.json()["error"]
    assert msg.endswith(".") and "\n" not in msg and "Traceback" not in msg and "--" not in msg
    return msg


# ---------------------------------------------------------------- 3, 6, 11: bad input, 400


def test_odd_input_to_the_api_is_400_and_writes_nothing(comp):
    with comp.authed() as h:
        one_sentence(h.get("/api/log", params={"days": "\u00b2"}), 400)   # "²".isdigit() is True
        one_sentence(h.get("/api/log", params={"days": "\u0663"}), 400)   # an Arabic-Indic 3
        deep = "[" * 8000 + "]" * 8000
        assert "too deeply" in one_sentence(
            h.post("/api/log", content=deep, headers={"content-type": "application/json"}), 400)
        for note in ("\\ud800", "a\\u0085b", "a\\u001bb"):
            body = '{"session": "short", "completed": true, "minutes": 5, "pain": 3, "note": "%s"}' % note
            one_sentence(h.post("/api/log", content=body, headers={"content-type": "application/json"}), 400)
        one_sentence(h.post("/api/render", content='{"\\udfff": 1}', headers={"content-type": "application/json"}), 400)
    assert not log_file(comp.env).exists()  # not the play record either


def test_api_errors_name_fields_not_command_line_options(comp):
    with comp.authed() as h:
        msg = one_sentence(h.post("/api/render", json={"session": "short", "side": "left", "minutes": 180}), 400)
        assert msg.startswith("Minutes 180 is out of reach for 'short'")
        msg = one_sentence(h.post("/api/render", json={"session": "short", "side": "left", "skip": ["nope"]}), 400)
        assert msg.startswith("Skip nope: that pattern is not in session 'short'")


def test_a_message_that_starts_with_a_path_keeps_its_spelling():
    proc = run_cli("--scripts", "mylib", "list")
    assert proc.stderr == "sisessions: mylib: no such scripts folder.\n"


# ---------------------------------------------------------------- 9: the bed is a name


def test_the_bed_field_is_a_built_in_name_never_a_file(comp, workdir):
    with comp.authed() as h:
        for bed in ("rain.wav", str(workdir / "rain.wav"), "./rain.wav", "brown.wav"):
            msg = one_sentence(h.post("/api/render", json={"session": "short", "side": "left", "bed": bed}), 400)
            assert msg == "'bed' must be the name of a built-in bed."


# ---------------------------------------------------------------- 6: a damaged render


def test_a_damaged_render_is_unknown_and_never_breaks_the_others(comp):
    with comp.authed() as h:
        first = render(h)
        assert first["state"] == "ready"
        folder = Path(comp.env["XDG_DATA_HOME"]) / "sisessions" / "companion" / first["id"]
        meta = json.loads((folder / "render.json").read_text())
        for damage in ({k: v for k, v in meta.items() if k != "duration"}, dict(meta, made="yesterday"),
                       dict(meta, audio=["x"]), [1, 2]):
            (folder / "render.json").write_text(json.dumps(damage))
            assert h.get(f"/api/render/{first['id']}").status_code == 404
            assert h.get(first["audio"]).status_code == 404
            feed = h.get("/feed.xml")
            assert feed.status_code == 200 and b"<rss" in feed.content
        # a damaged render.json left there: a new render of the same session is made, not "failed"
        other = render(h, pace=1.25)
        assert other["state"] == "ready", other


# ---------------------------------------------------------------- 6: file-system errors


def test_a_practice_log_that_is_a_folder_is_a_one_sentence_500(comp):
    f = log_file(comp.env)
    f.mkdir(parents=True)
    try:
        with comp.authed() as h:
            one_sentence(h.get("/api/log?days=7"), 500)
            one_sentence(h.post("/api/log", json={"session": "short", "completed": True, "minutes": 5}), 500)
    finally:
        f.rmdir()


def test_a_full_disk_under_the_companion_is_one_sentence_and_nothing_half_written(tmp_path, shared_cache):
    env = module_env(tmp_path, shared_cache)
    with tiny_disk(tmp_path / "disk") as disk:
        env["XDG_DATA_HOME"], env["XDG_CONFIG_HOME"] = str(disk / "data"), str(disk / "config")
        c = Companion(env)
        try:
            with c.authed() as h:
                f = log_file(env)
                while not f.exists() or f.stat().st_size < 3900:  # the log ends close to a page's end
                    ok = h.post("/api/log", json={"session": "short", "completed": True, "minutes": 5})
                    assert ok.status_code == 201
                before = f.read_bytes()
                fill(disk)
                for _ in range(3):
                    r = h.post("/api/log", json={"session": "short", "completed": True, "minutes": 5,
                                                 "pain": 3, "note": "é" * 500})
                    one_sentence(r, (500, 507))
                assert f.read_bytes() == before
                one_sentence(h.post("/api/settings", json={"show_streak": False}), 507)  # settings.json
        finally:
            c.stop()


# ---------------------------------------------------------------- 10: the Host header


def test_a_host_that_is_not_this_computer_is_refused_before_the_feed(comp):
    with comp.authed() as h:
        for host in ("evil.example", f"evil.example:{comp.port}", "127.0.0.1.nip.io", "[::1", "a:b:c"):
            r = h.get("/feed.xml", headers={"Host": host})
            assert r.status_code == 400, host
            assert comp.token not in r.text
        for host in (f"127.0.0.1:{comp.port}", f"localhost:{comp.port}", f"[::1]:{comp.port}", "192.168.1.20:8765"):
            r = h.get("/feed.xml", headers={"Host": host})
            assert r.status_code == 200, host
            assert f"http://{host}/media/" in r.text or "<item>" not in r.text


def test_serve_refuses_a_foreign_host_too(tmp_path):
    from sisessions.phone.serve import make_app
    from sisessions.phone.server import Running

    (tmp_path / "a.mp3").write_bytes(b"ID3" + b"\0" * 100)
    srv = Running(make_app(tmp_path))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}") as c:
            assert c.get("/a.mp3", headers={"Host": "rebind.example"}).status_code == 400
            assert c.get("/a.mp3").status_code == 200
    finally:
        srv.stop()


# ---------------------------------------------------------------- 7: ranges


@pytest.fixture
def served(tmp_path):
    from sisessions.phone.serve import make_app
    from sisessions.phone.server import Running

    data = os.urandom(5000)
    (tmp_path / "a.mp3").write_bytes(data)
    srv = Running(make_app(tmp_path))
    try:
        yield f"http://127.0.0.1:{srv.port}/a.mp3", data
    finally:
        srv.stop()


@pytest.mark.parametrize("rng, status, part", [
    ("bytes=0-5,10-15", 200, slice(None)),            # several ranges: the whole file
    ("bytes=0-5,9999999-", 206, slice(0, 6)),         # the one that can be served
    ("bytes=-99999999", 206, slice(None)),            # a suffix longer than the file: all of it
    ("bytes=9999999-,8888888-", 416, None),
    ("bytes=0-0,-1,100-200", 200, slice(None)),
])
def test_ranges_as_rfc_9110_says_seen_by_httpx(served, rng, status, part):
    url, data = served
    r = httpx.get(url, headers={"Range": rng}, timeout=30)
    assert r.status_code == status, (r.status_code, r.headers)
    if part is None:
        assert r.headers["content-range"] == f"bytes */{len(data)}"
        return
    assert r.content == data[part]
    assert int(r.headers["content-length"]) == len(r.content)
    if status == 206:
        body = data[part]
        start = data.index(body) if part.start is None else part.start
        assert r.headers["content-range"] == f"bytes {start}-{start + len(body) - 1}/{len(data)}"


def test_a_multi_range_request_is_whole_for_curl(served, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    url, data = served
    out = tmp_path / "got"
    p = subprocess.run(["curl", "-sS", "-r", "0-5,10-15", "-o", str(out), "-w", "%{http_code}", url],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "200" and out.read_bytes() == data


def test_companion_media_ranges_too(comp):
    with comp.authed() as h:
        state = render(h)
        data = h.get(state["audio"]).content
        r = h.get(state["audio"], headers={"Range": "bytes=0-5,100-200"})
        assert r.status_code == 200 and r.content == data
        r = h.get(state["audio"], headers={"Range": "bytes=-99999999"})
        assert r.status_code == 206 and r.content == data


# ---------------------------------------------------------------- 8: odd folders under serve


def test_serve_answers_odd_folders_with_404_or_403(tmp_path):
    from sisessions.phone.serve import make_app
    from sisessions.phone.server import Running

    root = tmp_path / "root"
    root.mkdir()
    (root / "ok.mp3").write_bytes(b"ID3")
    os.close(os.open(os.fsencode(root) + b"/caf\xe9.mp3", os.O_CREAT | os.O_WRONLY, 0o644))  # Latin-1 name
    (root / "loop").symlink_to("loop")
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    srv = Running(make_app(root))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=30) as c:
            listing = c.get("/")
            assert listing.status_code == 200 and "ok.mp3" in listing.text
            for path in ("/loop", "/loop/x", "/a", "/a/b/c", "/" + "/".join(["x" * 250] * 20)):
                assert c.get(path).status_code == 404, path
    finally:
        srv.stop()


def test_serve_as_a_normal_user_answers_403_under_a_closed_folder(tmp_path):
    """As `nobody` (root may read anything): a file under a mode-000 folder is a 403, not a 500."""
    with nobody.folder("sis-serve-") as top:
        (top / "home").mkdir(mode=0o777)
        os.chmod(top / "home", 0o777)
        closed = top / "share" / "closed"
        closed.mkdir(parents=True)
        (closed / "x.mp3").write_bytes(b"ID3")
        (top / "share" / "ok.mp3").write_bytes(b"ID3")
        os.chmod(top / "share", 0o755)
        os.chmod(top / "share" / "ok.mp3", 0o644)
        os.chmod(closed, 0)
        env = {"HOME": str(top / "home"), "PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        p = subprocess.Popen([*nobody.AS_NOBODY, sys.executable, "-m", "sisessions", "serve", str(top / "share"),
                              "--port", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             cwd=top / "home")
        try:
            line = p.stdout.readline()
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            assert m, (line, p.stderr.read() if p.poll() is not None else "")
            with httpx.Client(base_url=f"http://127.0.0.1:{m[1]}", timeout=30) as c:
                assert c.get("/ok.mp3").status_code == 200
                assert c.get("/closed/x.mp3").status_code == 403
                assert c.get("/closed/").status_code == 403
        finally:
            p.send_signal(2)
            p.wait(15)
        assert "Traceback" not in p.stderr.read()


# ---------------------------------------------------------------- 16: IPv6 literals


def test_an_ipv6_host_is_printed_in_brackets_and_the_address_works(home):
    c = Companion(home, "--host", "::1")
    try:
        assert c.line.startswith("Open on your phone: http://[::1]:"), c.line
        with httpx.Client(timeout=30) as h:
            r = h.get(f"{c.base}/api/sessions", headers={"Authorization": f"Bearer {c.token}"})
            assert r.status_code == 200
    finally:
        c.stop()
