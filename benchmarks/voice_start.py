"""What the voice's identity costs at start-up: the model hash, remembered or not.

    .venv/bin/python benchmarks/voice_start.py

Times the default engine's settings (engine version, voice identity: a hash of the 63 MB
model, kept in the user cache folder by path, size and mtime) in fresh processes with an
empty memo and with a filled one. Never run as a test.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

PROBE = ("import time; t = time.perf_counter(); "
         "from sisessions.voice.engines.base import get_engine; e = get_engine(None); t1 = time.perf_counter(); "
         "e.settings(None, 110); t2 = time.perf_counter(); "
         "print((t1 - t) * 1000, (t2 - t1) * 1000)")


def probe(env: dict) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    a, b = out.stdout.split()
    return float(a), float(b)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": tmp}
        cold, warm = [], []
        for _ in range(5):
            for f in os.listdir(tmp):
                subprocess.run(["rm", "-rf", os.path.join(tmp, f)], check=True)
            cold.append(probe(env))
            warm.append(probe(env))
    med = lambda rows, i: statistics.median(r[i] for r in rows)  # noqa: E731
    print(f"import + choose the engine: {med(warm, 0):.1f} ms")
    print(f"settings, model hash not remembered: {med(cold, 1):.1f} ms")
    print(f"settings, model hash remembered:     {med(warm, 1):.1f} ms")


if __name__ == "__main__":
    main()
