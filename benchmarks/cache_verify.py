"""What checking each clip's checksum on read costs a warm export of `daily`.

    .venv/bin/python benchmarks/cache_verify.py [--session daily] [--engine espeak] [--runs 5]

Fills a private cache, then times (1) the whole warm export command, as a user runs it
(median of --runs), and (2) in process, the lookups of every clip of the session: the cache's
own `get` (reads the file, checks header, size and the checksum in its name) against the
header-and-size check alone that came before checksums. The difference is the price of the
checksum; it is printed as a share of the export. Files are in the page cache (a warm export
reads what was just written); never run as a test.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def header_only(path: Path) -> int | None:
    """The check before checksums: header and size, the samples not read."""
    from sisessions.voice.cache import HEADER

    try:
        size = os.path.getsize(path)
        with wave.open(str(path), "rb") as w:
            frames = w.getnframes()
    except (OSError, EOFError, wave.Error):
        return None
    return frames if size == HEADER + frames * 2 else None


def lookups(session: str, engine: str | None, repeat: int = 20) -> tuple[float, float, int, int]:
    """Seconds for one pass over the session's clips: (verified get, header only), clips, bytes."""
    from sisessions import app, paths
    from sisessions.voice.cache import Cache

    choices = app.Choices(engine=engine, side="left")
    prepared = app.prepare(app.open_library(()), session, choices)
    speech = app.open_speech(choices)
    cache = Cache(paths.cache_dir())
    keys = [cache.key(speech.settings, t) for t in app.texts(prepared)]
    hits = [cache.get(k) for k in keys]
    assert all(hits), "the cache is not warm"
    size = sum(p.stat().st_size for p, _ in hits)
    full, head = [], []
    for _ in range(repeat):  # interleaved, best of many: the machine is shared
        t = time.perf_counter()
        for k in keys:
            cache.get(k)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        for p, _ in hits:
            header_only(p)
        head.append(time.perf_counter() - t)
    return min(full), min(head), len(keys), size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--session", default="daily")
    ap.add_argument("--engine", default="espeak")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SISESSIONS_CACHE=str(Path(tmp) / "cache"))
        base = [sys.executable, "-m", "sisessions"]
        opts = [a.session, "--engine", a.engine, "--side", "left"]
        subprocess.run(base + ["synth", *opts], env=env, check=True, capture_output=True, cwd=ROOT)
        walls = []
        for i in range(a.runs):
            t = time.perf_counter()
            subprocess.run(base + ["export", *opts, "-o", str(Path(tmp) / f"out{i}.mp3")], env=env, check=True,
                           capture_output=True, cwd=ROOT)
            walls.append(time.perf_counter() - t)
        os.environ["SISESSIONS_CACHE"] = env["SISESSIONS_CACHE"]
        full, head, n, size = lookups(a.session, a.engine)
    export = statistics.median(walls)
    cost = full - head
    print(f"warm export of {a.session} ({a.engine}): {export:.2f} s (median of {a.runs}; "
          f"{', '.join(f'{w:.2f}' for w in walls)})")
    print(f"{n} clips, {size / 1e6:.1f} MB: verified lookups {full * 1000:.1f} ms, "
          f"header-only {head * 1000:.1f} ms")
    print(f"checksum cost: {cost * 1000:.1f} ms = {100 * cost / export:.2f} % of the export")


if __name__ == "__main__":
    main()
