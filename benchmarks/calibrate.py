"""How fast each engine speaks for each of its own settings: the figures behind --rate.

    .venv/bin/python benchmarks/calibrate.py [--engine piper|espeak]

Synthesizes every phrase of the reference lines (benchmarks/reference) through a real
worker, trims each as clip.py does, and prints the articulation rate (words per second of
speech, silences between phrases left out) for a range of the engine's settings, with the
straight-line fit that engines/piper.py (seconds per word = A + B * length_scale) and
engines/espeak.py (words per minute = K * espeak rate) are calibrated with. Never a test.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRID = {"piper": ("length_scale", [1.0, 1.2, 1.4, 1.6, 1.8]),
        "espeak": ("rate", [80, 100, 120, 140, 170, 200])}


def reference_lines() -> list[str]:
    import yaml

    steps = yaml.safe_load((HERE / "reference" / "patterns" / "plain-instructions.yaml").read_text())["steps"]
    return [s["say"] for s in steps]


def speech_seconds(engine, param: str, value, lines: list[str], tmp: Path) -> float:
    from sisessions.audio import RATE
    from sisessions.voice import clip, phrasing
    from sisessions.voice.engines.base import SpeechSettings, Worker

    voice, vid = engine.resolve_voice(None)
    s = SpeechSettings(engine.name, engine.version(), voice, vid, 110, ((param, value),))
    w = Worker(s)
    total = 0.0
    try:
        for i, line in enumerate(lines):
            for j, ph in enumerate(phrasing.split(line)):
                out = tmp / f"{i}-{j}.wav"
                w.request({"op": "synth", "text": ph.text, "out": str(out)}, 120)
                total += len(clip.trim(clip.load(out))) / RATE
    finally:
        w.close()
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=sorted(GRID), action="append")
    a = ap.parse_args()
    from sisessions.voice.engines.base import get_engine

    lines = reference_lines()
    words = sum(len(x.split()) for x in lines)
    for name in a.engine or sorted(GRID):
        engine = get_engine(name)
        param, values = GRID[name]
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for v in values:
                sec = speech_seconds(engine, param, v, lines, Path(tmp))
                rows.append((v, sec))
                print(f"{name:<7} {param}={v:<5} {words} words in {sec:5.1f} s of speech: "
                      f"{words / sec * 60:5.0f} wpm articulation", flush=True)
        n = len(rows)
        xs, ys = [r[0] for r in rows], [r[1] / words for r in rows]
        if name == "espeak":  # articulation wpm proportional to the espeak rate
            k = sum(words / s * 60 / v for v, s in rows) / n
            print(f"{name:<7} fit: articulation wpm = {k:.3f} x rate")
        else:  # seconds per word linear in length_scale
            mx, my = sum(xs) / n, sum(ys) / n
            b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
            print(f"{name:<7} fit: seconds per word = {my - b * mx:.4f} + {b:.4f} x {param}")


if __name__ == "__main__":
    main()
