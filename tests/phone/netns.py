"""A phone on a home network, for the companion's tests: a network namespace made by the test
(a veth pair, 10.x addresses), the companion at the namespace's non-loopback address
(`helpers.Companion(env, ..., ns=ns, host=ns.ip)`), and Debian's
Chromium driven by chromedriver inside the same namespace, trusting the companion's authority
through its NSS database (`certutil`), as a person installs it. Needs root and iproute2."""
from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
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

    def __enter__(self) -> Netns:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.quit()

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
