"""Every test gets its own home, config, data, state and cache folders: nothing real is touched."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# One shared, warm cache for the whole run (per xdist worker) so that tests which only need
# some speech do not synthesize the same lines again and again.
_SHARED_CACHE: Path | None = None


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, shared_cache):
    home = tmp_path / "home"
    for sub in ("config", "data", "state", "cache"):
        (home / sub).mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("SISESSIONS_CACHE", str(shared_cache))
    monkeypatch.setenv("SISESSIONS_DEBUG", "1")  # unexpected exceptions raise in tests
    monkeypatch.delenv("SISESSIONS_SCRIPTS", raising=False)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)  # never the real session bus
    return home


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("shared-audio-cache")


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache of this test's own."""
    d = tmp_path / "cache-own"
    monkeypatch.setenv("SISESSIONS_CACHE", str(d))
    return d


def missing_on_ci(missing: bool) -> bool:
    """Skip a test for a missing tool only off CI: `.ci/run` installs every tool the tests use
    (`setup.sh --test`), so there a missing one fails the test instead of hiding."""
    return missing and not os.environ.get("CI")


def run_cli(*args, env=None, input=None, timeout=600, check=None):
    """Run `python -m sisessions ARGS` in a real subprocess; returns CompletedProcess."""
    e = dict(os.environ)
    e.pop("SISESSIONS_DEBUG", None)  # the user's view: one-line errors, no tracebacks
    if env:
        e.update(env)
    proc = subprocess.run([sys.executable, "-m", "sisessions", *map(str, args)], capture_output=True,
                          text=True, env=e, input=input, timeout=timeout)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def module_env(root: Path, cache: Path) -> dict:
    """The per-test isolation of conftest, for module-wide exports made once."""
    home = root / "home"
    env = {"HOME": str(home), "SISESSIONS_CACHE": str(cache)}
    for sub in ("config", "data", "state", "cache"):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[f"XDG_{sub.upper()}_HOME"] = str(home / sub)
    return env


@pytest.fixture
def cli():
    return run_cli


def engine_workers_of(pid: int) -> list[int]:
    """The engine worker processes started by process `pid` (read from /proc)."""
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"engines.worker" in cmd:
                kids.append(int(d.name))
    return kids


def signal_every_worker(args, sig, env=None, timeout=60):
    """Run `python -m sisessions ARGS` and send `sig` to each engine worker as it appears
    (a real crash or hang of the engine). Returns (returncode, stdout, stderr, signalled)."""

    e = {k: v for k, v in os.environ.items() if k != "SISESSIONS_DEBUG"}
    e.update(env or {})
    p = subprocess.Popen([sys.executable, "-m", "sisessions", *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=e)
    done = set()
    end = time.time() + timeout
    while p.poll() is None and time.time() < end:
        for pid in engine_workers_of(p.pid):
            if pid not in done:
                os.kill(pid, sig)
                done.add(pid)
        time.sleep(0.005)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err, done


def pytest_configure(config):
    config.addinivalue_line("markers", "long: takes minutes; run first, so that it is not the tail of a run")


def pytest_collection_modifyitems(config, items):
    """The few long tests first: xdist hands tests out in order, and a long one that starts
    last makes the whole run wait for it on one core."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)
