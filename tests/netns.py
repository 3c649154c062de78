"""A phone on a home network, for the companion's tests: a network namespace made by the test
(a veth pair, 10.x addresses), the companion at the namespace's non-loopback address, and Debian's
Chromium driven by chromedriver inside the same namespace, trusting the companion's authority
through its NSS database (`certutil`), as a person installs it. Needs root and iproute2."""
from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import missing_on_ci


def usable() -> bool:
    tools = all(shutil.which(t) for t in ("ip", "chromium", "chromedriver", "certutil"))
    return os.geteuid() == 0 and tools


def skip_reason() -> str:
    return "needs root, iproute2, chromium, chromium-driver and libnss3-tools (setup.sh --test; on CI a missing one fails)"


def should_skip() -> bool:
    return missing_on_ci(not usable())


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class Netns:
    """`ip netns add` with a veth pair: this side HOST_IP, the namespace's side IP."""

    def __init__(self):
        self.name = f"sis{os.getpid()}x{random.randrange(10**6)}"
        a, b = random.randrange(16, 250), random.randrange(1, 250)
        self.host_ip, self.ip = f"10.{a}.{b}.1", f"10.{a}.{b}.2"
        outer, inner = f"vo{self.name[3:12]}", f"vi{self.name[3:12]}"
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", outer, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/30", "dev", outer)
            _ip("link", "set", outer, "up")
            self.run_ip("addr", "add", f"{self.ip}/30", "dev", inner)
            self.run_ip("link", "set", inner, "up")
            self.run_ip("link", "set", "lo", "up")
        except BaseException:
            self.close()
            raise
        self.outer = outer

    def run_ip(self, *args: str) -> None:
        _ip("netns", "exec", self.name, "ip", *args)

    def cmd(self, *args) -> list[str]:
        return ["ip", "netns", "exec", self.name, *map(str, args)]

    def close(self) -> None:
        _ip("netns", "del", self.name, check=False)  # takes the veth pair with it


def free_port_inside(ns: Netns) -> int:
    """A port number the namespace does not use yet (it starts empty: any fixed one would do)."""
    return random.randrange(20000, 40000)


class Companion:
    """`sisessions companion --host NS_IP --port PORT ARGS` inside the namespace; stop() and start() again."""

    def __init__(self, ns: Netns, env: dict, libs: tuple, *args, port: int | None = None):
        self.ns, self.env, self.libs, self.args = ns, env, libs, args
        self.port = port or free_port_inside(ns)
        self.proc = None
        self.start()

    def start(self) -> None:
        e = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
        e.update(self.env, PYTHONUNBUFFERED="1")
        cmd = self.ns.cmd(sys.executable, "-m", "sisessions", *self.libs, "companion", "--host", self.ns.ip,
                          "--port", self.port, *self.args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                                     cwd=str(Path(__file__).resolve().parent.parent))
        self.line = self.proc.stdout.readline().strip()
        m = re.fullmatch(r"Open on your phone: (https?)://([0-9.]+):(\d+)/\?t=([A-Za-z0-9_-]+)", self.line)
        assert m, (self.line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.scheme, self.token = m[1], m[4]
        assert m[2] == self.ns.ip and int(m[3]) == self.port
        self.base = f"{self.scheme}://{self.ns.ip}:{self.port}"
        # answering from outside the namespace, through the veth pair
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                socket.create_connection((self.ns.ip, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the companion does not answer")

    def stop(self) -> str:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stderr.read() if self.proc is not None else ""


def trust(home: Path, ca: Path) -> Path:
    """Add the authority to the NSS database Chromium reads in `home`, as a person installs it."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-d", f"sql:{db}", "-N", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-d", f"sql:{db}", "-A", "-t", "C,,", "-n", "sisessions local authority", "-i",
                    str(ca)], check=True, capture_output=True)
    return db


class Browser:
    """chromedriver (and so Chromium) inside the namespace, driven from here over the veth pair."""

    def __init__(self, ns: Netns, home: Path):
        from selenium import webdriver

        self.home = home
        self.port = random.randrange(40000, 50000)
        env = dict(os.environ, HOME=str(home))
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        self.proc = subprocess.Popen(ns.cmd("chromedriver", f"--port={self.port}", f"--allowed-ips={ns.host_ip}",
                                            "--log-level=WARNING"),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        end = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((ns.ip, self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    self.proc.kill()
                    raise AssertionError("chromedriver did not start in the namespace") from None
                time.sleep(0.05)
        opts = webdriver.ChromeOptions()
        opts.binary_location = shutil.which("chromium")
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=390,844",
                  "--autoplay-policy=no-user-gesture-required", "--mute-audio", "--disable-dev-shm-usage",
                  f"--user-data-dir={home / 'profile'}"):
            opts.add_argument(a)
        opts.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}})
        try:
            self.drv = webdriver.Remote(command_executor=f"http://{ns.ip}:{self.port}", options=opts)
        except BaseException:
            self.proc.kill()
            raise

    def quit(self) -> None:
        try:
            self.drv.quit()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
