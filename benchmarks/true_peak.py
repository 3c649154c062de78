"""The cost of measuring an encoded MP3's true peak (output/mp3.py: the check every export now
makes before it keeps a file), against the session's length, and what it finds.

    .venv/bin/python benchmarks/true_peak.py [--sessions towel daily] [--engine espeak] [--runs 3] [--pace 1]

Exports each built-in session once (warm cache after the first), then times
`mp3.true_peak_db` on the file (median of --runs) and, for comparison, the same 4x oversampled
measure over the whole file without the screen, and gives ffmpeg's integrated loudness. Prints
one row per session. Never run as a test.

The test of the norm (tests/output/test_export.py) exports every built-in session with espeak
and `towel` with the default voice; the default voice over more sessions, as the test once did:

    .venv/bin/python benchmarks/true_peak.py --engine piper --sessions check towel --pace 0.5 --runs 1

(every row must show a true peak at or below -1 dBTP and -16 +-1 LUFS).
"""
from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def full_measure(path: Path) -> float:
    """loudness.true_peak over every 10 s block (no screen): the yardstick."""
    import numpy as np

    from sisessions.audio import RATE, ffmpeg_exe
    from sisessions.voice import loudness

    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(RATE),
                          "-"], capture_output=True, check=True).stdout
    x = np.frombuffer(raw, "<f4").astype(np.float64)
    block = RATE * 10
    return max(loudness.true_peak(x[max(0, i - 256):i + block + 256]) for i in range(0, len(x), block))


def lufs(path: Path) -> float:
    """Integrated loudness by ffmpeg's own ebur128 meter."""
    import re

    from sisessions.audio import ffmpeg_exe

    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null",
                          "-"], capture_output=True, text=True).stderr
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", err.split("Summary:")[-1])[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", nargs="+", default=["towel", "daily"])
    ap.add_argument("--engine", default="espeak")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pace", default="1")
    args = ap.parse_args()
    from mutagen.mp3 import MP3

    from sisessions.output import mp3

    print("| session | length | true peak (dBTP) | measure (s) | share of length | unscreened measure (s) | LUFS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for s in args.sessions:
            out = Path(tmp) / f"{s}.mp3"
            subprocess.run([sys.executable, "-m", "sisessions", "export", s, "--side", "left", "--engine",
                            args.engine, "--pace", args.pace, "--no-sidecars", "-o", str(out)], check=True,
                           capture_output=True)
            length = MP3(str(out)).info.length
            times, peak = [], -math.inf
            for _ in range(args.runs):
                t = time.perf_counter()
                peak = mp3.true_peak_db(out)
                times.append(time.perf_counter() - t)
            t = time.perf_counter()
            full = full_measure(out)
            full_s = time.perf_counter() - t
            m = statistics.median(times)
            print(f"| {s} | {length / 60:.1f} min | {peak:.2f} (unscreened {full:.2f}) | {m:.2f} | "
                  f"{100 * m / length:.2f} % | {full_s:.2f} | {lufs(out):.1f} |")


if __name__ == "__main__":
    main()
