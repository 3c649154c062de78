"""Export of long sessions from a warm cache: wall time against a bare ffmpeg encode of the same
audio, and peak memory, at several lengths; beside it a naive pydub build (`seg +=`).

    .venv/bin/python benchmarks/export.py [--minutes 10 30 60 90] [--engine piper] [--runs 3] [--no-pydub]
                                          [--bed brown|drone|FILE]

Prints one row per length (medians of --runs interleaved runs; the session lengths are the
real ones, which come out somewhat longer than asked). The "export" is the whole command
(start-up, planning, tags, chapters and transcript sidecars included); "ffmpeg" is Debian's
ffmpeg encoding the same session's WAV to MP3 at the same bitrate (with --bed, both the WAV
and the measured export carry the bed, so ffmpeg encodes the same audio). Never run as a test.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PATTERN = """title: Bench
repetitions: {reps}
steps:
  - say: Lie on your back, with your knees bent and your feet flat on the floor.
  - pause: 5
  - repeat:
      count: true
      steps:
        - say: Slowly tighten the muscles of your lower back, just a little.
        - pause: 6
        - say: And release, even more slowly than you tightened.
        - pause: 9
        - breathe: 1
        - say: Rest completely.
        - pause: 10
"""
SESSION = "title: Bench {m}\nitems:\n" + "  - bench\n" * 1

CHILD = r"""
import json, resource, sys, time
from sisessions.cli import main
t = time.perf_counter()
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    wall = time.perf_counter() - t
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"wall": wall, "rss_mb": me, "child_rss_mb": kids}), file=sys.stderr)
"""

NAIVE = r"""
import json, resource, sys, time, wave
from pydub import AudioSegment
from sisessions import app
from sisessions.sources.chime import chime_pcm
from sisessions.app import Choices
tl_args = json.loads(sys.argv[1])
t = time.perf_counter()
lib = app.open_library(tl_args["scripts"])
c = Choices(engine=tl_args["engine"])
p = app.prepare(lib, tl_args["session"], c)
sp = app.open_speech(c)
tl = app.plan(p, sp)
seg = AudioSegment.empty().set_frame_rate(22050).set_channels(1).set_sample_width(2)
for cue in tl.cues:
    if cue.kind == "say":
        seg += AudioSegment.from_wav(str(sp.get(cue.text)[0]))
    elif cue.kind == "pause":
        seg += AudioSegment.silent(duration=cue.frames * 1000 / 22050, frame_rate=22050)
    else:
        seg += AudioSegment(chime_pcm(cue.frames), frame_rate=22050, sample_width=2, channels=1)
seg.export(tl_args["out"], format="mp3", bitrate="64k")
wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), file=sys.stderr)
"""


def run_child(code: str, args: list[str], env: dict) -> dict:
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(p.stderr)
    return json.loads(p.stderr.strip().splitlines()[-1])


def make_library(root: Path, minutes: float) -> None:
    # one repetition is about 42-50 s at 110 wpm; the table prints the real length
    (root / "patterns").mkdir(parents=True, exist_ok=True)
    (root / "sessions").mkdir(exist_ok=True)
    reps = max(1, round(minutes * 60 / 42))
    rounds, rest = divmod(reps, 100)
    text = PATTERN.format(reps=min(reps, 100))
    (root / "patterns" / "bench.yaml").write_text(text)
    items = "  - bench\n" * max(1, rounds) if reps > 100 else "  - bench\n"
    if reps > 100 and rest:
        items += f"  - pattern: bench\n    repetitions: {rest}\n"
    (root / "sessions" / "bench.yaml").write_text(f"title: Bench\nchime: true\nitems:\n{items}")


def ffmpeg_baseline(wav: Path, mp3: Path, ffmpeg: str) -> float:
    t = time.perf_counter()
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(wav), "-codec:a", "libmp3lame", "-b:a", "64k",
                    "-f", "mp3", str(mp3)], check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 60, 90])
    ap.add_argument("--engine", default="piper")
    ap.add_argument("--no-pydub", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bed", default=None, help="export with this bed (the ffmpeg baseline gets the same audio)")
    a = ap.parse_args()
    from sisessions.audio import ffmpeg_exe

    ffmpeg = ffmpeg_exe()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "SISESSIONS_CACHE": str(tmp / "cache")}
        bed = ["--bed", a.bed] if a.bed else []
        print(f"engine {a.engine}; ffmpeg {ffmpeg}; bed {a.bed or 'none'}")
        print(f"{'minutes':>7} {'export s':>9} {'ffmpeg s':>9} {'ratio':>6} {'peak MB':>8} {'ffmpeg MB':>9}"
              f" {'pydub s':>8} {'pydub MB':>9}")
        for m in a.minutes:
            lib = tmp / f"lib{m:g}"
            make_library(lib, m)
            base = ["--scripts", str(lib)]
            subprocess.run([sys.executable, "-m", "sisessions", *base, "synth", "bench", "--engine", a.engine],
                           check=True, env=env, capture_output=True)
            out, wav = tmp / "out.mp3", tmp / "out.wav"
            subprocess.run([sys.executable, "-m", "sisessions", *base, "export", "bench", "--engine", a.engine,
                            "-o", str(wav), *bed], check=True, env=env, capture_output=True)
            length = (wav.stat().st_size - 44) / 2 / 22050 / 60
            # interleaved runs, medians: this machine's timings wander by 10-20 % run to run
            runs, ffs = [], []
            for _ in range(a.runs):
                runs.append(run_child(CHILD, [*base, "export", "bench", "--engine", a.engine, "-o", str(out), *bed],
                                      env))
                ffs.append(ffmpeg_baseline(wav, tmp / "ff.mp3", ffmpeg))
            r = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
            ff = statistics.median(ffs)
            naive = {"wall": float("nan"), "rss_mb": float("nan")}
            if not a.no_pydub:
                naive = run_child(NAIVE, [json.dumps({"scripts": [str(lib)], "engine": a.engine,
                                                      "session": "bench", "out": str(tmp / "naive.mp3")})], env)
            print(f"{length:7.1f} {r['wall']:9.2f} {ff:9.2f} {r['wall'] / ff:6.2f} {r['rss_mb']:8.1f} "
                  f"{r['child_rss_mb']:9.1f} {naive['wall']:8.2f} {naive['rss_mb']:9.1f}", flush=True)


if __name__ == "__main__":
    main()
