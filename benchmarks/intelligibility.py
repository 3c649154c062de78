"""How clear and how slow each voice is: word error rate of an offline recogniser, and wpm.

    .venv/bin/python benchmarks/intelligibility.py [--engine piper] [--rate 110] [--jobs N]

Renders the reference script (benchmarks/reference: twelve plain instructions and the
safety line) with each engine at default settings into an empty cache, then for every say
cue: transcribes its clip with pocketsphinx (its bundled US English model) and compares the
words with the text (word error rate = word edits / reference words), and measures words per
minute on the clip (words / clip seconds). Also prints the cold synthesis speed (seconds of
speech made per second of wall clock, and per CPU second of the parent and its workers,
which other work on a shared machine does not change) and the export's loudness. Targets for the default voice: WER <= 0.35
at <= 130 wpm. Never run as a test.
"""
from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "reference"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower().replace("-", " "))


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


class Recogniser:
    def __init__(self):
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=16000, logfn="/dev/null")

    def transcribe(self, clip: Path) -> str:
        from pydub import AudioSegment

        seg = AudioSegment.from_wav(str(clip)).set_frame_rate(16000)
        d = self.decoder
        d.start_utt()
        d.process_raw(seg.raw_data, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return hyp.hypstr if hyp else ""


def loudness_of(path: Path) -> str:
    import subprocess

    from sisessions.audio import ffmpeg_exe

    r = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-af",
                        "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True)
    s = r.stderr.split("Summary:")[-1]
    i = re.search(r"I:\s+(-?[\d.]+) LUFS", s).group(1)
    tp = re.search(r"True peak:\s+Peak:\s+(-?[\d.]+)", s).group(1)
    return f"{i} LUFS, true peak {tp} dBTP"


def run(engine_name: str, rate: int, jobs: int | None, rec: Recogniser) -> dict:
    from sisessions import app
    from sisessions.app import Choices
    from sisessions.voice.cache import Cache
    from sisessions.voice.engines.base import get_engine
    from sisessions.voice.speech import Speech

    choices = Choices(engine=engine_name, rate=rate)
    p = app.prepare(app.open_library((str(REFERENCE),)), "reference", choices)
    texts = app.texts(p)
    engine = get_engine(engine_name)
    settings = engine.settings(None, rate)
    with tempfile.TemporaryDirectory() as tmp:
        cpu0 = _cpu()
        with Speech(settings, Cache(Path(tmp)), jobs=jobs) as sp:
            t = time.perf_counter()
            sp.ensure(texts)
            wall = time.perf_counter() - t
            jobs_used = sp.jobs
        cpu = _cpu() - cpu0  # the workers' time counts once they have exited
        with Speech(settings, Cache(Path(tmp)), jobs=jobs) as sp:
            tl = app.plan(p, sp)
            out = app.export(tl, sp, app.export_request(p, output=str(Path(tmp) / "reference.mp3"))).path
            loud = loudness_of(out)
            errors = ref_words = 0
            wpms, speech = [], 0.0
            for text in texts:
                path, frames = sp.get(text)
                seconds = frames / 22050
                speech += seconds
                hyp = rec.transcribe(path)
                ref = words(text)
                errors += edit_distance(ref, words(hyp))
                ref_words += len(ref)
                wpms.append(len(text.split()) / seconds * 60)
    return {"engine": engine_name, "wer": errors / ref_words, "wpm": statistics.mean(wpms),
            "wpm_min": min(wpms), "wpm_max": max(wpms), "speed": speech / wall, "wall": wall,
            "cpu_speed": speech / cpu, "speech": speech, "jobs": jobs_used, "lines": len(texts),
            "loudness": loud}


def _cpu() -> float:
    """CPU seconds of this process and its exited children (the engine workers): a figure
    that the other work on a shared machine does not change, unlike the wall clock."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", action="append", help="repeatable; default: every installed engine")
    ap.add_argument("--rate", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=None)
    a = ap.parse_args()
    from sisessions.choices import DEFAULT_RATE
    from sisessions.voice.engines.base import REGISTRY, get_engine

    names = a.engine or [n for n in REGISTRY if get_engine(n).installed()]
    rec = Recogniser()
    print("| engine | WER | wpm (mean, min-max) | cold synthesis, wall clock | per CPU second | export loudness |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in names:
        r = run(name, a.rate or DEFAULT_RATE, a.jobs, rec)
        print(f"| {r['engine']} | {r['wer']:.2f} | {r['wpm']:.0f} ({r['wpm_min']:.0f}-{r['wpm_max']:.0f}) | "
              f"{r['speed']:.1f}x real time ({r['speech']:.0f} s of speech in {r['wall']:.1f} s, "
              f"{r['jobs']} worker{'s' if r['jobs'] != 1 else ''}) | {r['cpu_speed']:.1f} s of speech | "
              f"{r['loudness']} |", flush=True)


if __name__ == "__main__":
    main()
