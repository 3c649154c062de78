"""The podcast feed read by feedparser (a real client) and the read-only server, spoken to over
real sockets: ranges, and every way out of the folder refused."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import stat
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import feedparser
import pytest

from tests.conftest import FIXTURES, module_env, run_cli
from tests.output.helpers import ARGS, TITLES

LIB = FIXTURES / "phone"
PODCAST = "https://podcastindex.org/namespace/1.0"


@pytest.fixture(scope="module")
def folder(tmp_path_factory, shared_cache):
    """A phone folder with two exports (one through --to, one plain) and a feed."""
    root = tmp_path_factory.mktemp("feed")
    env = module_env(root, shared_cache)
    d = root / "Phone"
    with ThreadPoolExecutor(2) as both:  # two independent exports at once, as two terminals would
        done = [both.submit(run_cli, "--scripts", LIB, "export", *ARGS, "--to", d, env=env, check=0),
                both.submit(run_cli, "--scripts", LIB, "export", "knee-sway", "--engine", "espeak", "-o",
                            d / "knee sway.mp3", env=env, check=0)]
    for f in done:
        f.result()
    old = time.time() - 86400  # made yesterday: the feed lists the newest first
    os.utime(d / "knee sway.mp3", (old, old))
    run_cli("feed", d, "--base-url", "http://127.0.0.1:8765/", env=env, check=0)
    return d


@pytest.fixture
def server(folder):
    """The folder served by uvicorn on a free port of 127.0.0.1 in a thread; always shut down."""
    from sisessions.phone.serve import make_app
    from sisessions.phone.server import Running

    srv = Running(make_app(folder))
    try:
        yield srv.port
    finally:
        srv.stop()


def get(port: int, path: str, headers: dict | None = None, method: str = "GET"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})  # sent as is: no client-side cleaning
        r = conn.getresponse()
        return r.status, r.headers, r.read()  # case-insensitive, as HTTP headers are
    finally:
        conn.close()


# ---------------------------------------------------------------- the feed


def test_feedparser_reads_a_valid_podcast_feed(folder):
    f = feedparser.parse(str(folder / "feed.xml"))
    assert not f.bozo, f.bozo_exception
    assert f.version == "rss20"
    assert f.feed.title == "sisessions"
    assert f.feed.image.href == "http://127.0.0.1:8765/feed-cover.png"
    assert [e.title.rsplit(", ", 1)[0] for e in f.entries] == ["Short Practice (left side)", "Knee Sway"]
    for e in f.entries:
        (enc,) = e.enclosures
        name = enc.href.rsplit("/", 1)[1].replace("%20", " ")
        assert enc.type == "audio/mpeg"
        assert int(enc.length) == (folder / name).stat().st_size
        assert e.id.startswith("sisessions-") and e.published_parsed
        assert e.itunes_duration.count(":") == 2
    assert f.entries[1].enclosures[0].href == "http://127.0.0.1:8765/knee%20sway.mp3"
    assert (folder / "feed-cover.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_each_episode_links_its_chapters_json(folder):
    items = ET.parse(folder / "feed.xml").getroot().findall("./channel/item")
    url = items[0].find(f"{{{PODCAST}}}chapters").attrib
    assert url["type"] == "application/json+chapters"
    rel = url["url"].split("8765/", 1)[1]
    data = json.loads((folder / rel).read_text(encoding="utf-8"))
    assert data["version"].startswith("1.")
    assert [c["title"] for c in data["chapters"]] == TITLES
    starts = [c["startTime"] for c in data["chapters"]]
    assert starts[0] == 0 and starts == sorted(starts)


def test_the_feed_is_rewritten_only_when_something_changed(folder, cli):
    before = (folder / "feed.xml").stat().st_mtime_ns
    cli("feed", folder, "--base-url", "http://127.0.0.1:8765", check=0)
    assert (folder / "feed.xml").stat().st_mtime_ns == before


def exported_as(folder: Path, d: Path, name: str) -> None:
    """The folder's plain export of knee-sway (`export knee-sway -o FILE`), as `name` in `d`."""
    d.mkdir(parents=True, exist_ok=True)
    for src in folder.glob("knee sway.*"):
        shutil.copy2(src, d / (name + src.suffix))


def test_feed_tidies_only_its_own_chapters_of_removed_mp3s(folder, tmp_path, cli):
    d = tmp_path / "Phone"
    exported_as(folder, d, "a")
    cli("feed", d, "--base-url", "http://pc.local:8765/", check=0)
    (d / "feed-chapters" / "mine.json").write_text('{"note": "my own"}')
    (d / "a.mp3").unlink()
    proc = cli("feed", d, "--base-url", "http://pc.local:8765/", check=0)
    assert "0 episodes" in proc.stdout
    assert sorted(p.name for p in (d / "feed-chapters").iterdir()) == ["mine.json"]


def test_a_broken_mp3_is_left_out_with_a_message(tmp_path, cli):
    (tmp_path / "broken.mp3").write_bytes(b"\x00" * 100)
    proc = cli("feed", tmp_path, "--base-url", "http://pc.local:8765/", check=0)
    assert "Left out" in proc.stderr and "broken.mp3" in proc.stderr
    assert feedparser.parse(str(tmp_path / "feed.xml")).entries == []


def test_an_mp3_whose_name_is_not_utf8_is_left_out_with_a_warning(folder, tmp_path, cli):
    mp3 = (folder / "knee sway.mp3").read_bytes()
    (tmp_path / "good.mp3").write_bytes(mp3)
    with open(os.fsencode(tmp_path) + b"/caf\xe9.mp3", "wb") as f:   # Latin-1 bytes, as old tools write
        f.write(mp3)
    proc = cli("feed", tmp_path, "--base-url", "http://pc.local:8765/", check=0)
    assert proc.stderr.strip().splitlines() == [
        "Left out caf\\xe9.mp3: its file name is not UTF-8, so no podcast app could ask for it; rename it."]
    ET.parse(tmp_path / "feed.xml")
    assert [e.enclosures[0].href for e in feedparser.parse(str(tmp_path / "feed.xml")).entries] == [
        "http://pc.local:8765/good.mp3"]


def test_the_feed_is_well_formed_xml_whatever_the_titles_hold(folder, tmp_path, cli):
    from mutagen.id3 import COMM, ID3, TIT2

    f = tmp_path / "odd.mp3"
    f.write_bytes((folder / "knee sway.mp3").read_bytes())
    tags = ID3(str(f))
    tags.setall("TIT2", [TIT2(encoding=3, text="Knee\x01 sway\x1b[31m\x0b")])
    tags.setall("COMM", [COMM(encoding=3, lang="eng", desc="", text="Lie down.\x00\x08\ufffe")])
    tags.save(str(f))
    cli("feed", tmp_path, "--base-url", "http://pc.local:8765/", "--title", "My\x07 sessions", check=0)
    channel = ET.parse(tmp_path / "feed.xml").getroot().find("channel")   # a strict XML 1.0 parser
    assert channel.findtext("title") == "My sessions"
    item = channel.find("item")
    assert item.findtext("title").startswith("Knee sway[31m, ")
    assert item.findtext("description").startswith("Lie down.")


@pytest.mark.parametrize("args, code, words", [
    (("DIR", "--base-url", "ftp://pc/"), 2, "--base-url"),
    (("DIR", "--base-url", "pc.local:8765"), 2, "--base-url"),
    (("MISSING", "--base-url", "http://pc/"), 2, "no such folder"),
])
def test_bad_feed_input_is_one_line_and_exit_2(tmp_path, cli, args, code, words):
    args = [str(tmp_path / "nope") if a == "MISSING" else str(tmp_path) if a == "DIR" else a for a in args]
    proc = cli("feed", *args, check=code)
    assert words in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- serve


def test_serve_answers_range_requests_with_the_right_bytes(folder, server):
    name = next(folder.glob("*-short.mp3")).name
    data = (folder / name).read_bytes()
    status, headers, body = get(server, "/" + name, {"Range": "bytes=100-1099"})
    assert status == 206 and body == data[100:1100]
    assert headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
    assert headers["Content-Type"] == "audio/mpeg" and headers["Accept-Ranges"] == "bytes"
    status, headers, body = get(server, "/" + name, {"Range": "bytes=-500"})
    assert status == 206 and body == data[-500:]
    status, _, body = get(server, "/" + name, {"Range": f"bytes={len(data) - 10}-"})
    assert status == 206 and body == data[-10:]
    status, headers, _ = get(server, "/" + name, {"Range": f"bytes={len(data)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(data)}"
    status, headers, body = get(server, "/" + name)
    assert status == 200 and body == data and int(headers["Content-Length"]) == len(data)
    status, headers, body = get(server, "/" + name, method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) == len(data)


def test_serve_feed_and_spaces_in_names(folder, server):
    status, headers, body = get(server, "/feed.xml")
    assert status == 200 and headers["Content-Type"] == "application/rss+xml"
    assert not feedparser.parse(body).bozo
    status, _, body = get(server, "/knee%20sway.mp3", {"Range": "bytes=0-2"})
    assert status == 206 and body == (folder / "knee sway.mp3").read_bytes()[:3]


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/feed-chapters/../../secret.txt",
    "//etc/passwd",
    "/%2Fetc%2Fpasswd",
    "/%5C..%5Csecret.txt",
    "http://127.0.0.1/../secret.txt",
    "/C:/Windows/win.ini",
    "/outside-link/secret.txt",
])
def test_serve_refuses_every_path_out_of_the_folder(folder, server, path):
    secret = folder.parent / "secret.txt"
    secret.write_text("TOP SECRET")
    link = folder / "outside-link"
    if not link.exists():
        link.symlink_to(folder.parent, target_is_directory=True)
    try:
        status, _, body = get(server, path)
    finally:
        link.unlink()
    assert status in (400, 403, 404), (path, status)
    assert b"TOP SECRET" not in body and b"root:" not in body


def test_serve_hides_hidden_files_and_is_read_only(folder, server):
    assert get(server, "/.sisessions-exports.json")[0] == 404
    assert get(server, "/nothing-here.mp3")[0] == 404
    before = sorted(p.name for p in folder.iterdir())
    for method in ("PUT", "POST", "DELETE"):
        assert get(server, "/feed.xml", method=method)[0] == 405
    assert sorted(p.name for p in folder.iterdir()) == before
    status, _, body = get(server, "/")
    assert status == 200 and b"feed.xml" in body and b"sisessions-exports" not in body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_serve_command_binds_localhost_and_stops_cleanly_on_ctrl_c(folder):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "sisessions", "serve", str(folder), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in first
        status, _, body = get(port, "/feed.xml", {"Range": "bytes=0-4"})
        assert status == 206 and body == b"<?xml"
        with pytest.raises(OSError):  # not reachable on another address of this machine
            other = socket.gethostbyname(socket.gethostname())
            if other.startswith("127."):
                raise OSError("only loopback here")
            socket.create_connection((other, port), timeout=2).close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_says_so_when_the_port_is_taken(folder, cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        proc = cli("serve", folder, "--port", s.getsockname()[1], check=1)
    assert "already in use" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------- serve: what a real-client check found


def test_serve_honours_if_range_and_answers_etag_and_304(folder, server):
    name = next(folder.glob("*-short.mp3")).name
    data = (folder / name).read_bytes()
    status, headers, _ = get(server, "/" + name)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag.startswith('"') and modified.endswith("GMT")
    assert get(server, "/" + name, {"If-None-Match": etag})[0] == 304
    assert get(server, "/" + name, {"If-None-Match": f'"other", {etag}'})[0] == 304
    assert get(server, "/" + name, {"If-Modified-Since": modified})[0] == 304
    status, _, body = get(server, "/" + name, {"Range": "bytes=0-9", "If-Range": etag})
    assert status == 206 and body == data[:10]
    status, _, body = get(server, "/" + name, {"Range": "bytes=0-9", "If-Range": modified})
    assert status == 206 and body == data[:10]
    # a resumed download of a file that has changed gets the whole new file, never a splice
    status, _, body = get(server, "/" + name, {"Range": "bytes=100-", "If-Range": '"the-old-file"'})
    assert status == 200 and body == data


@pytest.mark.parametrize("rng, status", [
    ("bytes=" + "9" * 5000 + "-", 416),
    ("bytes=-" + "9" * 5000, 206),          # the last 10^5000 bytes: the whole file
    ("bytes=0-" + "9" * 5000, 206),         # to byte 10^5000: the whole file
    ("bytes=-0", 416),
])
def test_serve_answers_huge_range_numbers_without_a_traceback(folder, server, rng, status):
    name = next(folder.glob("*-short.mp3")).name
    data = (folder / name).read_bytes()
    got, headers, body = get(server, "/" + name, {"Range": rng})
    assert got == status
    if status == 416:
        assert headers["Content-Range"] == f"bytes */{len(data)}"
    else:
        assert body == data


def test_serve_answers_a_300_byte_path_segment(folder, server):
    assert get(server, "/" + "a" * 300 + ".mp3")[0] in (404, 414)
    assert get(server, "/" + "%C3%A9" * 150)[0] in (404, 414)


def test_serve_never_serves_or_blocks_on_fifos_and_devices(folder, server):
    fifo, dev = folder / "pipe.mp3", folder / "null.mp3"
    os.mkfifo(fifo)
    try:
        if os.geteuid() == 0:
            os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
        t = time.monotonic()
        assert get(server, "/pipe.mp3")[0] == 404
        if dev.exists():
            assert get(server, "/null.mp3")[0] == 404
        assert time.monotonic() - t < 5
        assert get(server, "/feed.xml")[0] == 200  # nothing is stuck
        status, _, body = get(server, "/")
        assert b"pipe.mp3" not in body and b"null.mp3" not in body
    finally:
        fifo.unlink()
        dev.unlink(missing_ok=True)


def test_serve_answers_403_before_any_byte_for_a_file_it_cannot_read(tmp_path):
    """Run as a user who may not read the file (as root: the `serve` command without the
    capabilities that let root read any file)."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="sisessions-serve-"))  # reachable by nobody, unlike tmp_path
    try:
        os.chmod(d, 0o755)
        (d / "open.mp3").write_bytes(b"ID3open")
        (d / "locked.mp3").write_bytes(b"ID3secret")
        os.chmod(d / "open.mp3", 0o644)
        os.chmod(d / "locked.mp3", 0o000)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
        env.update(HOME=str(d), PYTHONUNBUFFERED="1")
        as_nobody = _drop_read_any_file if os.geteuid() == 0 else None
        proc = subprocess.Popen([sys.executable, "-m", "sisessions", "serve", str(d), "--port", str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                preexec_fn=as_nobody, cwd=str(d))
        try:
            assert "http://127.0.0.1" in proc.stdout.readline()
            status, headers, body = get(port, "/locked.mp3")
            assert status == 403 and b"secret" not in body
            assert get(port, "/open.mp3")[2] == b"ID3open"
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=10)
    finally:
        os.chmod(d / "locked.mp3", 0o600)
        shutil.rmtree(d)


def _drop_read_any_file() -> None:
    """In the child before exec: leave CAP_DAC_OVERRIDE (1) and CAP_DAC_READ_SEARCH (2) out of
    the bounding set, so root's program obeys file modes like any user's."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_serve_times_out_a_half_sent_request(folder, monkeypatch):
    from sisessions.phone import server as srv
    from sisessions.phone.serve import make_app

    monkeypatch.setattr(srv, "HEAD_TIMEOUT", 0.5)
    running = srv.Running(make_app(folder))
    try:
        for sent in (b"", b"GET /feed.xml HTTP/1.1\r\nHost: 127.0.0.1\r\n"):  # nothing, then half a head
            s = socket.create_connection(("127.0.0.1", running.port), timeout=10)
            try:
                s.sendall(sent)
                t = time.monotonic()
                assert s.recv(100) == b""  # closed by the server, not by our timeout
                assert 0.3 < time.monotonic() - t < 5
            finally:
                s.close()
        assert get(running.port, "/feed.xml")[0] == 200  # a whole request still works
    finally:
        running.stop()


def test_feed_escapes_a_base_url_with_a_space(folder, tmp_path, cli):
    d = tmp_path / "Phone"
    exported_as(folder, d, "a")
    cli("feed", d, "--base-url", "http://pc.local:8765/my phone", check=0)
    f = feedparser.parse(str(d / "feed.xml"))
    assert not f.bozo, f.bozo_exception
    assert f.entries[0].enclosures[0].href == "http://pc.local:8765/my%20phone/a.mp3"
    assert f.feed.image.href == "http://pc.local:8765/my%20phone/feed-cover.png"
    (tr,) = ET.parse(d / "feed.xml").getroot().findall(f"./channel/item/{{{PODCAST}}}transcript")
    assert tr.attrib == {"url": "http://pc.local:8765/my%20phone/a.vtt", "type": "text/vtt"}


def test_split_tracks_carry_an_album_artist(tmp_path, cli):
    from mutagen.id3 import ID3

    cli("--scripts", LIB, "export", "knee-sway", "--engine", "espeak", "-o", f"{tmp_path}/", "--split", check=0)
    tracks = sorted((tmp_path / "knee-sway").glob("*.mp3"))
    assert tracks
    for t in tracks:
        tags = ID3(t)
        assert str(tags["TPE2"].text[0]) == "sisessions" and str(tags["TPE1"].text[0]) == "sisessions"
