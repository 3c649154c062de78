"""How long `today`'s decision takes on a long practice log (SPEC §8): the companion asks for
it on every page load, and `play today` before the first sound.

A year (or N years) of daily practice with a check, a morning and an after-session pain entry
each day is written into a throwaway home, then `app.today_decision` is timed in this process
(median of 20) and `sisessions today --json` as a command (median of 5, imports included).

Run: python benchmarks/today.py [YEARS]
"""
from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(years: int = 1) -> None:
    home = Path(tempfile.mkdtemp(prefix="sisessions-today-bench-"))
    for sub in ("config", "data", "state", "cache"):
        (home / sub).mkdir()
        os.environ[f"XDG_{sub.upper()}_HOME"] = str(home / sub)
    os.environ["HOME"] = str(home)
    from sisessions import app
    from sisessions.practice import log

    rnd = random.Random(1)
    today = dt.date.today()
    days = 365 * years
    for k in range(days, 0, -1):
        d = today - dt.timedelta(days=k)
        log.append(log.check_record(rnd.choice(["left", "left", "right", "same"]), log.time_on(d, 7)))
        log.append(log.pain_record(rnd.randint(1, 4), when="morning", time=log.time_on(d, 7)))
        log.append(log.play_record("unlock", "left", 1.0, "piper", True, None, 28.0, time=log.time_on(d, 12)))
        log.append(log.pain_record(rnd.randint(1, 6), when="after", time=log.time_on(d, 18)))
    size = log.log_file().stat().st_size
    lib = app.open_library(())
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        d = app.today_decision(lib)
        times.append(time.perf_counter() - t0)
    cmd = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sisessions", "today", "--json"], check=True,
                       capture_output=True)
        cmd.append(time.perf_counter() - t0)
    print(f"log: {days} days, {4 * days} records, {size / 1024:.0f} KB")
    print(f"decision in process: median {statistics.median(times) * 1000:.0f} ms "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); today: {d.session}, {d.light}")
    print(f"`sisessions today --json`: median {statistics.median(cmd) * 1000:.0f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
