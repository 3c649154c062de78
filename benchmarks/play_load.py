"""Does `sisessions play` drop or delay sound while the machine is busy?

Two (or --busy N) processes spin `while 1: pass` on the cores while `play` runs on a private
PulseAudio null sink; what the sink's monitor heard is compared with the session as `export`
renders it:

- correlation: of the loudness envelopes (20 ms windows), at the one best lag over the whole
  session (what tests/play/test_play.py asserts >= 0.9); a dropout or a late cue lowers it;
- dropouts: the recording is cut in 2-second stretches and each is matched on its own; a
  stretch whose best lag is more than 40 ms from the session's is a slip (sound arrived late,
  or silence was inserted by an underrun). Reported: slips and the largest.

Modes: warm (every clip cached) and cold (an empty cache: synthesis runs on the cores while
the session plays, as on a first play). Each mode runs --runs times, with and without load.

Run from the checkout:  .venv/bin/python benchmarks/play_load.py [--runs 3] [--busy 2]
    [--session towel --minutes 4] [--engine piper]
It starts its own PulseAudio (pulseaudio, pulseaudio-utils) and touches no real home folder.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.play_start import env_for  # noqa: E402
from tests.audio_server import RATE, WINDOW, PulseServer, Recorder, best_match, envelope  # noqa: E402

STRETCH = 2 * RATE
SLIP = 2 * WINDOW          # 40 ms


def reference(env: dict, args: list[str], out: Path) -> np.ndarray:
    """The session as export renders it (a WAV, from the same cache)."""
    subprocess.run([sys.executable, "-m", "sisessions", "export", *args, "-o", str(out)], env=env,
                   check=True, capture_output=True)
    import wave

    with wave.open(str(out), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def slips(heard: np.ndarray, ref: np.ndarray, lag: int) -> list[int]:
    """For each loud 2 s stretch of the reference, how far (in samples) its own best match in
    the recording is from where the whole session's match puts it."""
    out = []
    r_env = envelope(ref)
    for s in range(0, len(ref) - STRETCH, STRETCH):
        seg = ref[s: s + STRETCH]
        if envelope(seg).std() < 50 or r_env[s // WINDOW: (s + STRETCH) // WINDOW].max() < 300:
            continue  # a silence: nothing to place it by
        lo = max(0, lag + s - RATE)
        window = heard[lo: lag + s + STRETCH + RATE]
        if len(window) < STRETCH:
            out.append(RATE)
            continue
        _, k = best_match(window, seg)
        out.append(lo + k - (lag + s))
    return out


def busy(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(n)]


def run(server: PulseServer, env: dict, args: list[str], ref: np.ndarray | None):
    with Recorder(server) as rec:
        proc = subprocess.run([sys.executable, "-m", "sisessions", "play", *args, "--no-check"], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"play failed: {proc.stderr}")
    return rec.samples


def measure(heard, ref):
    corr, lag = best_match(heard, ref)
    sl = slips(heard, ref, lag)
    bad = [abs(x) for x in sl if abs(x) > SLIP]
    return corr, len(bad), max((abs(x) for x in sl), default=0) / RATE, len(sl)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--busy", type=int, default=2, help="busy processes during the loaded runs")
    ap.add_argument("--engine", default=None, help="voice engine (default: the default engine)")
    ap.add_argument("--session", default="towel")
    ap.add_argument("--minutes", default="5")
    ap.add_argument("--modes", default="warm,cold")
    ap.add_argument("--loads", default=None, help="busy processes per run, e.g. 2 (default: 0 and --busy)")
    a = ap.parse_args()
    voice = ["--engine", a.engine] if a.engine else []
    args = [a.session, "--side", "left", "--minutes", a.minutes, *voice]
    with tempfile.TemporaryDirectory(prefix="sisessions-bench-") as tmp:
        base = Path(tmp)
        server = PulseServer(base / "pulse").start()
        try:
            warm_env = env_for(base, server, base / "warm-cache")
            ref = reference(warm_env, args, base / "ref.wav")
            print(f"sisessions play {' '.join(args)}: {len(ref) / RATE:.0f} s; {os.cpu_count()} cores; "
                  f"load average before {os.getloadavg()[0]:.1f}")
            for mode in a.modes.split(","):
                for load in ([int(x) for x in a.loads.split(",")] if a.loads else (0, a.busy)):
                    rows = []
                    for k in range(a.runs):
                        env = warm_env if mode == "warm" else env_for(base, server, base / f"cold-{load}-{k}")
                        spinners = busy(load)
                        try:
                            time.sleep(0.5 if load else 0)
                            heard = run(server, env, args, ref)
                        finally:
                            for p in spinners:
                                p.kill()
                                p.wait()
                        rows.append(measure(heard, ref))
                    corr = [r[0] for r in rows]
                    print(f"  {mode:4} cache, {load} busy: correlation {statistics.median(corr):.3f} "
                          f"(min {min(corr):.3f}); stretches slipped {sum(r[1] for r in rows)} of "
                          f"{sum(r[3] for r in rows)}; largest slip {max(r[2] for r in rows):.2f} s")
            print(f"  load average after {os.getloadavg()[0]:.1f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
