"""What the phone tests share: the real `sisessions companion` in a home of its own (`Companion`),
its practice log read back, a headless Chromium sized as a phone, and waiting for the page."""
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

from tests.conftest import FIXTURES, missing_on_ci

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
