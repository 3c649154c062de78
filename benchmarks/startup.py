"""Start-up cost of this tree against an earlier commit: `sisessions --help`, and how soon a
warm `play` is heard.

Both trees run with the same Python and packages (the earlier one from a `git worktree`, first
on PYTHONPATH); runs are interleaved so that the machine's load falls on both alike. For
`--help` it prints wall time and the CPU time of the process (which hardly depends on load);
for `play` the time from the command's start to the first loud sample on a private PulseAudio
monitor (what a listener hears), with a warm cache.

Run from the checkout:  .venv/bin/python benchmarks/startup.py [--ref 4f0bb49] [--runs 15]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.play_start import env_for  # noqa: E402
from tests.audio_server import RATE, PulseServer, Recorder, loud  # noqa: E402

PLAY = ["play", "short", "--side", "left", "--engine", "espeak", "--player", "miniaudio"]
LIB = ROOT / "tests" / "fixtures" / "play"


def timed(tree: Path, args: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of `python -m sisessions ARGS` from `tree`."""
    env = dict(env, PYTHONPATH=str(tree))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sisessions", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tree)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heard(tree: Path, server: PulseServer, env: dict, timeout: float = 30) -> float:
    env = dict(env, PYTHONPATH=str(tree))
    with Recorder(server) as rec:
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "sisessions", "--scripts", str(LIB), *PLAY], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=tree)
        first = float("nan")
        while time.monotonic() < t0 + timeout and proc.poll() is None:
            time.sleep(0.02)
            w = loud(rec.samples)
            if len(w):
                first = rec.time_of(int(w[0]) * (RATE // 50)) - t0
                break
        proc.terminate()
        proc.wait(10)
    return first


def med(values: list[float]) -> str:
    vals = [v for v in values if v == v]
    return f"{statistics.median(vals):.3f} s" if vals else "no sound"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="4f0bb49", help="the earlier commit (default: before the package layout)")
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sisessions-startup-") as tmp:
        base = Path(tmp)
        old = base / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), a.ref],
                       check=True, capture_output=True)
        server = PulseServer(base / "pulse").start()
        try:
            trees = {a.ref: old, "this tree": ROOT}
            env = env_for(base, server, base / "cache")
            env.pop("DBUS_SESSION_BUS_ADDRESS", None)
            for tree in trees.values():  # warm the cache (one format for both) and the page cache
                subprocess.run([sys.executable, "-m", "sisessions", "--scripts", str(LIB), "synth", *PLAY[1:6]],
                               env=dict(env, PYTHONPATH=str(tree)), check=True, capture_output=True, cwd=tree)
            helps = {k: [] for k in trees}
            plays = {k: [] for k in trees}
            for _ in range(a.runs):
                for k, tree in trees.items():
                    helps[k].append(timed(tree, ["--help"], env))
            for _ in range(max(3, a.runs // 3)):
                for k, tree in trees.items():
                    plays[k].append(heard(tree, server, env))
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; medians")
            for k in trees:
                print(f"  {k:<10} --help wall {med([w for w, _ in helps[k]])}, CPU {med([c for _, c in helps[k]])};"
                      f"  warm play heard after {med(plays[k])}")
        finally:
            server.stop()
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], capture_output=True)
            shutil.rmtree(old, ignore_errors=True)


if __name__ == "__main__":
    main()
