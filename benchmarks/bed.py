"""The beds measured: level in the silences, word error rate with and without, the export's
loudness and true peak.

    .venv/bin/python benchmarks/bed.py [--engine piper] [--beds brown drone FILE...]

Renders the reference script (benchmarks/reference, as intelligibility.py does) once without
a bed and once with each bed, in the internal format. For every say cue it cuts that stretch
of the mixed audio (voice plus the bed as mixed under it) and transcribes it with pocketsphinx,
so the WER is what a listener gets with the bed; the target is no more than 0.03 above the WER
without. The level is the RMS of (with bed - without) inside the towel session's pauses longer
than 3 s (the reference script has none), away from their edges and the session's fades. Towel is then exported to MP3 with each bed
and decoded, to measure its integrated loudness and true peak (targets -16 LUFS +-1 and
<= -1 dBTP). Export speed and memory: benchmarks/export.py --bed NAME. Never run as a test.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from intelligibility import REFERENCE, Recogniser, edit_distance, words

RATE = 22050


def render_pcm(name: str, engine: str, bed: str | None, tmp: Path):
    from sisessions import app
    from sisessions.output.render import render

    choices = app.Choices(engine=engine, bed=bed, side="left")
    scripts = (str(REFERENCE),) if name == "reference" else ()
    p = app.prepare(app.open_library(scripts), name, choices)
    with app.speech_session(choices, str(tmp / "cache")) as sp:
        tl = app.plan(p, sp)
        pcm = b"".join(render(tl, sp, bed=p.bed))
    return tl, np.frombuffer(pcm, "<i2").astype(np.float64) / 32768.0


def wer(tl, x: np.ndarray, rec: Recogniser, tmp: Path) -> float:
    errors = total = 0
    for c in tl.cues:
        if c.kind != "say":
            continue
        clip = tmp / "cut.wav"
        with wave.open(str(clip), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(np.clip(np.round(x[c.start:c.end] * 32768), -32768, 32767).astype("<i2").tobytes())
        ref = words(c.text)
        errors += edit_distance(ref, words(rec.transcribe(clip)))
        total += len(ref)
    return errors / total


def silence_level(tl, bed: np.ndarray) -> float:
    from sisessions.sources import bed as beds

    parts = [bed[c.start + RATE:c.end - RATE // 2] for c in tl.cues
             if c.kind == "pause" and c.frames > 3 * RATE
             and c.start > beds.FADE_IN * RATE and c.end < tl.frames - beds.FADE_OUT * RATE]
    y = np.concatenate(parts)
    return 10 * np.log10(np.mean(y * y))


def mp3_level(bed: str, engine: str, tmp: Path) -> tuple[float, float]:
    from sisessions.audio import ffmpeg_exe
    from sisessions.voice import loudness

    out = tmp / f"towel-{Path(bed).name}.mp3"
    subprocess.run([sys.executable, "-m", "sisessions", "--cache-dir", str(tmp / "cache"), "export", "towel",
                    "--side", "left", "--engine", engine, "--bed", bed, "-o", str(out)], check=True,
                   capture_output=True)
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-f", "s16le", "-ac", "1", "-ar",
                          str(RATE), "-"], capture_output=True, check=True).stdout
    lv = loudness.measure(np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0, RATE)
    return lv.integrated, lv.true_peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="piper")
    ap.add_argument("--beds", nargs="+", default=["brown", "drone"])
    a = ap.parse_args()
    rec = Recogniser()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tl, plain = render_pcm("reference", a.engine, None, tmp)
        base = wer(tl, plain, rec, tmp)
        _, towel = render_pcm("towel", a.engine, None, tmp)
        print(f"engine {a.engine}; reference script: {sum(c.kind == 'say' for c in tl.cues)} lines")
        print("| bed | level in silences | WER without | WER with | towel MP3: loudness, true peak |")
        print("| --- | --- | --- | --- | --- |")
        for bed in a.beds:
            tl, mixed = render_pcm("reference", a.engine, bed, tmp)
            ttl, towel_bed = render_pcm("towel", a.engine, bed, tmp)
            lufs, tp = mp3_level(bed, a.engine, tmp)
            print(f"| {Path(bed).name} | {silence_level(ttl, towel_bed - towel):.1f} dBFS RMS | {base:.3f} | "
                  f"{wer(tl, mixed, rec, tmp):.3f} | {lufs:.1f} LUFS, {tp:.1f} dBTP |", flush=True)


if __name__ == "__main__":
    main()
