"""The companion as the hostile-request tests (test_http_hostile, cli/test_doubts) start it: in a
working folder of the test's choosing, with this checkout on PYTHONPATH, and never a traceback
when it stops."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import FIXTURES

LIBS = ("--scripts", FIXTURES / "phone", "--scripts", FIXTURES / "morning")


class Companion:
    """`sisessions companion --port 0` (in `cwd`), stopped with Ctrl-C at the end."""

    def __init__(self, env: dict, *args, cwd: Path | None = None):
        e = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
        e.update(env, PYTHONUNBUFFERED="1", PYTHONPATH=str(Path(__file__).resolve().parents[2]))
        self.env = env
        self.proc = subprocess.Popen([sys.executable, "-m", "sisessions", *map(str, LIBS), "companion",
                                      "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=e, cwd=cwd)
        self.line = self.proc.stdout.readline().strip()
        m = re.fullmatch(r"Open on your phone: (http://(.+):(\d+))/\?t=([A-Za-z0-9_-]+)", self.line)
        assert m, (self.line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.base, self.host, self.port, self.token = m[1], m[2], int(m[3]), m[4]

    def authed(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60, headers={"Authorization": f"Bearer {self.token}"}, **kw)

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
