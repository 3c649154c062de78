"""The doubts of issue 23 (item 17), each settled by a decision this test holds: a render a page
is playing is kept; an unreadable token file is an error, never silently replaced; the head
limit holds for a head sent whole; one version of a clip; `export -o` onto a FIFO or a link;
a checkout installed by root, used by another user."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

from pathlib import Path

import pytest

from sisessions.choices import Choices
from sisessions.voice.cache import Cache
from tests.conftest import FIXTURES, module_env, run_cli
from tests import nobody
from tests.phone.helpers import Companion

ROOT = Path(__file__).resolve().parents[2]
ESPEAK = ("--engine", "espeak", "--rate", "200")


def test_a_render_a_page_asked_for_lately_is_kept_beyond_the_newest_few(tmp_path):
    """Another phone's newer renders no longer take away the one a tab is playing."""
    from sisessions.phone import renders as rs

    made = rs.Renders(scripts=(str(FIXTURES / "phone"),), keep=1)
    ids = []
    for pace in (1.0, 1.25):
        rid = made.order(rs.Order("short", Choices(side="left", pace=pace)))["id"]
        assert made.wait(rid)["state"] == "ready"
        ids.append(rid)
    assert [made.state(r)["state"] for r in ids] == ["ready", "ready"]
    old = rs.Renders(scripts=(str(FIXTURES / "phone"),), keep=1)  # a restart: nothing asked for lately
    rid = old.order(rs.Order("short", Choices(side="left", pace=1.5)))["id"]
    assert old.wait(rid)["state"] == "ready"
    assert [old.state(r)["state"] for r in ids] == ["unknown", "unknown"]


@pytest.mark.parametrize("content", [b"not a token\n", b"\xff\xfe\n", b""])
def test_an_unreadable_token_file_is_an_error_and_stays(tmp_path, shared_cache, content):
    env = module_env(tmp_path, shared_cache)
    f = Path(env["XDG_CONFIG_HOME"]) / "sisessions" / "companion-token"
    f.parent.mkdir(parents=True)
    f.write_bytes(content)
    proc = run_cli("companion", "--port", "0", env=env, timeout=60)
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.startswith(f"sisessions: The companion's token file {f} ")
    assert "--new-token" in proc.stderr and proc.stderr.count("\n") == 1
    assert f.read_bytes() == content
    c = Companion(env, "--new-token")  # the way out it names
    c.stop()
    assert f.read_text().strip() == c.token


def test_a_head_over_16_kb_sent_at_once_is_431(tmp_path, shared_cache):
    env = module_env(tmp_path, shared_cache)
    c = Companion(env)
    try:
        s = socket.create_connection(("127.0.0.1", c.port), timeout=20)
        with s:
            s.sendall((f"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {c.token}\r\n"
                       f"X-Pad: {'a' * 40000}\r\n\r\n").encode())
            head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 431 "), head[:200]
    finally:
        c.stop()


def test_two_versions_of_one_clip_leave_one_in_the_cache(tmp_path):
    """Two processes made the same line at once and got different takes: one is kept, by both."""
    import numpy as np

    key = "ab" + "0" * 62
    one, two = Cache(tmp_path / "c"), Cache(tmp_path / "c")
    a = (np.arange(2205) % 50).astype("<i2").tobytes()
    b = (np.arange(2205) % 60).astype("<i2").tobytes()
    kept_a = one.put(key, a)
    kept_b = two.put(key, b)
    entries = sorted((tmp_path / "c" / "clips" / "ab").iterdir())
    assert len(entries) == 1, entries
    assert kept_b[0] == entries[0] and kept_b[0].exists()
    assert one.get(key) == two.get(key) == kept_b
    assert kept_a[1] == kept_b[1]


def test_export_onto_a_fifo_is_refused_and_onto_a_link_keeps_the_link(tmp_path):
    fifo = tmp_path / "pipe.mp3"
    os.mkfifo(fifo)
    proc = run_cli("--scripts", FIXTURES / "phone", "export", "short", "--side", "left", *ESPEAK, "-o", fifo,
                   timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "not a regular file" in proc.stderr
    assert fifo.is_fifo()
    real = tmp_path / "sync" / "today.wav"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "today.wav"
    link.symlink_to(real)
    run_cli("--scripts", FIXTURES / "phone", "export", "short", "--side", "left", *ESPEAK, "-o", link,
            check=0, timeout=300)
    assert link.is_symlink() and link.resolve() == real
    assert real.read_bytes()[:4] == b"RIFF"


def test_a_checkout_installed_by_root_works_for_another_user(tmp_path):
    """A root-owned checkout with its audio_cache/: another user's synth uses their own cache."""
    with nobody.folder("sis-checkout-") as top:
        checkout = top / "sisessions-src"
        checkout.mkdir()
        for name in ("sisessions", "scripts"):
            shutil.copytree(ROOT / name, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", checkout)
        (checkout / "audio_cache").mkdir()
        subprocess.run(["chmod", "-R", "go+rX,go-w", str(top)], check=True)
        home = top / "home"
        home.mkdir()
        os.chown(home, 65534, 65534)
        env = {"HOME": str(home), "PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": str(checkout)}
        run = [*nobody.AS_NOBODY, sys.executable, "-m", "sisessions"]
        info = subprocess.run([*run, "cache", "info"], env=env, cwd=home, capture_output=True, text=True, timeout=60)
        assert info.returncode == 0, info.stderr
        assert str(home) in info.stdout and "audio_cache" not in info.stdout
        # a clip stored where this user's commands store them (an engine worker is a child
        # process that setpriv's user may not start from this test's Python: the put itself)
        put = ("from sisessions import paths; from sisessions.voice.cache import Cache; "
               "print(Cache(paths.cache_dir()).put('ab' + '0' * 62, bytes(4410))[0])")
        stored = subprocess.run([*run[:-2], "-c", put], env=env, cwd=home, capture_output=True, text=True, timeout=60)
        assert stored.returncode == 0, stored.stderr
        assert stored.stdout.startswith(str(home))
        assert list((checkout / "audio_cache").iterdir()) == []


