"""Phone exports of a long built-in session from a warm cache: the whole MP3 (tags, chapters,
transcript), --split, and the feed; wall time and peak memory of each command.

    .venv/bin/python benchmarks/phone.py [--session daily] [--engine espeak]

The first run fills the cache (not timed). Prints one row per command. Never run as a test.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(*args) -> tuple[float, float]:
    """(seconds, peak RSS in MB of that command and everything it started)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, *map(str, args)], capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    return took, float(proc.stdout.strip().splitlines()[-1])


# the child reports the larger of its own peak and its children's (ffmpeg, engine workers)
CHILD = r"""
import resource, sys
from sisessions.cli import main
try:
    main.main(sys.argv[1:], prog_name="sisessions", standalone_mode=False)
finally:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(max(own, kids) / 1024)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--session", default="daily")
    ap.add_argument("--engine", default="espeak")
    a = ap.parse_args()
    common = (a.session, "--engine", a.engine, "--side", "left")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        run("synth", *common)
        rows = [
            ("export (whole)", run("export", *common, "-o", d / "whole.mp3")),
            ("export --split", run("export", *common, "--split", "-o", f"{d}/")),
            ("export --to --keep", run("export", *common, "--to", d / "sync", "--keep", "3")),
            ("feed", run("feed", d / "sync", "--base-url", "http://127.0.0.1:8765/")),
        ]
        size = (d / "whole.mp3").stat().st_size / 1e6
        from mutagen.mp3 import MP3

        tags = MP3(str(d / "whole.mp3"))
        print(f"session {a.session}: {tags.info.length / 60:.1f} min, {size:.1f} MB, "
              f"{len(tags.tags.getall('CHAP'))} chapters")
        for name, (secs, mb) in rows:
            print(f"{name:20s} {secs:6.1f} s   peak {mb:6.0f} MB")


if __name__ == "__main__":
    main()
