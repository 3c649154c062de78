"""What the phone tests share: the real `sisessions companion` in a home of its own (`Companion`,
`begun`), its practice log read back, a headless Chromium sized as a phone, and waiting for the page."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES, missing_on_ci, module_env, run_cli

ROOT = Path(__file__).resolve().parents[2]
LIBS = ("--scripts", FIXTURES / "phone", "--scripts", FIXTURES / "morning")


class Companion:
    """`sisessions companion --port PORT ARGS` in its own home (`env`), this checkout on
    PYTHONPATH, in `cwd`; at `host` (--host) when given, inside the network namespace `ns`
    (tests/phone/netns.py) when given. stop() is Ctrl-C, and never a traceback; start() again."""

    def __init__(self, env: dict, *args, host: str | None = None, port: int = 0, cwd: Path | None = None,
                 ns=None, libs: tuple = LIBS):
        self.env, self.args, self.host, self.port, self.cwd, self.ns, self.libs = env, args, host, port, cwd, ns, libs
        self.proc = None
        self.start()

    def start(self) -> None:
        """Start it (again, on the port it had) and return once it accepts connections."""
        e = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
        e.update(self.env, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
        where = ("--host", self.host) if self.host else ()
        cmd = [sys.executable, "-m", "sisessions", *self.libs, "companion", *where, "--port", self.port, *self.args]
        cmd = self.ns.cmd(*cmd) if self.ns is not None else list(map(str, cmd))
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                                     cwd=self.cwd or ROOT)
        self.line = self.proc.stdout.readline().strip()
        m = re.fullmatch(r"Open on your phone: (https?)://(.+):(\d+)/\?t=([A-Za-z0-9_-]+)", self.line)
        assert m, (self.line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        assert self.host in (None, m[2]), (self.host, self.line)
        self.scheme, self.port, self.token = m[1], int(m[3]), m[4]
        self.base = f"{self.scheme}://{m[2]}:{self.port}"
        # answering from here (from outside a namespace: through its veth pair)
        wait_for(lambda: _answers(m[2].strip("[]"), self.port), 30, 0.05)

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60, follow_redirects=False, **kw)

    def authed(self, **kw) -> httpx.Client:
        return self.client(headers={"Authorization": f"Bearer {self.token}"}, **kw)

    def __enter__(self) -> Companion:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read()
        assert "Traceback" not in err, err
        return err


def _answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def begun(root: Path, cache: Path, like: dict | None = None) -> dict:
    """A home of its own in `root` (tests.conftest.module_env) with the fixture programme begun:
    by `today --program steps`, or as a copy of `like`, a home begun so and left untouched."""
    env = module_env(root, cache)
    if like is None:
        run_cli(*LIBS, "today", "--program", "steps", env=env, check=0)
    else:
        shutil.copytree(like["HOME"], env["HOME"], dirs_exist_ok=True)
    return env


def log_lines(env: dict) -> list[dict]:
    f = Path(env["XDG_DATA_HOME"]) / "sisessions" / "practice.jsonl"
    return [json.loads(x) for x in f.read_text().splitlines()] if f.exists() else []


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=390,844",
              "--autoplay-policy=no-user-gesture-required", "--mute-audio", "--disable-dev-shm-usage"):
        opts.add_argument(a)
    # a phone's viewport (headless windows are never narrower than 500 px)
    opts.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


needs_chromium = pytest.mark.skipif(missing_on_ci(not (shutil.which("chromium") and shutil.which("chromedriver"))),
                                    reason="needs Debian's chromium and chromium-driver (setup.sh --test; "
                                           "on CI a missing one fails)")


def wait_for(fn, timeout=120, every=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(every)
    raise AssertionError("timed out waiting")
