"""Spoken commands (`play --listen`): detection, latency, false triggers and CPU of the command
spotter (sisessions.play.listen.Spotter: voiced stretches decoded by pocketsphinx with the
command grammar, kept when their confidence against a free phone loop is high enough), on a
synthesized test set.

    .venv/bin/python benchmarks/listen.py [--cache-dir DIR] [--tune] [--quick]

Test set: each candidate phrase ("pause", "continue", "resume", "next", "skip", "back", "repeat",
"stop") spoken by 7 voices: Piper (joe, the bundled voice) at 80, 110 and 150 wpm through
sisessions.voice, and espeak-ng's en-us male and female variants (m3, f3, f5) and British
female (en+f2) at 150 wpm (espeak-ng's own command line: the project's espeak engine has no
variants). Each clip is put 0.7 s into a noise bed of room noise (1/f noise, low hum) and slow
breathing (band-passed noise bursts with raised-cosine envelopes: a 4 s in-breath, a 6 s
out-breath) at 20 dB and 10 dB SNR (speech power over the word / noise power), in two takes
with different noise and breath phase. Take A tunes the confidence level (--tune: one
level for every phrase), take B is reported; the voices are the same in both takes, so this is not a held-out-speaker figure.

False triggers: the whole `daily` session (Piper, the default voice), with a room echo (an
exponentially decaying noise tail, RT60 0.5 s, 10 dB under the direct sound), room noise and
breathing at 20 dB and 10 dB under the speech, fed to the spotter exactly as `play --listen`
gates it: only in the silences, from 0.15 s (the output's queue) + ECHO_TAIL after each
sound, a fresh utterance per silence. Also reported: the same audio heard without the gate
(all the time, voice included), to show what the gate is for.

Latency: from the end of the word (the clip's last loud 5 ms window) to the end of the
100 ms capture chunk after which the spotter reported it; the capture itself adds up to one
period more (PERIOD_MS), so add 0.1 s for the action. CPU: process time of the spotter per
second of audio, as a percentage of one core. Never run as a test.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sisessions import app  # noqa: E402
from sisessions.audio import RATE, ffmpeg_exe  # noqa: E402
from sisessions.play import listen  # noqa: E402

SR = listen.MIC_RATE
CHUNK = SR * listen.PERIOD_MS // 1000
WORDS = {  # candidate word -> the action it would do
    "pause": "pause", "continue": "resume", "resume": "resume", "next": "next", "skip": "next",
    "back": "back", "repeat": "repeat", "stop": "stop",
}
PIPER_RATES = (80, 110, 150)
ESPEAK_VOICES = ("en-us+m3", "en-us+f3", "en-us+f5", "en+f2")
LEVELS = (-40.0, -30.0, -25.0, -20.0, -15.0, -10.0, -5.0)   # confidence, per 10 ms frame
OUTPUT_QUEUE = 0.15       # the player's latency: quiet() waits for it after a sound ends


def to16k(pcm22: np.ndarray) -> np.ndarray:
    """int16 at RATE -> float at 16 kHz (ffmpeg's resampler)."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "s16le", "-ar", str(RATE), "-ac", "1", "-i", "-",
                          "-f", "s16le", "-ar", str(SR), "-ac", "1", "-"],
                         input=pcm22.astype("<i2").tobytes(), capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.float64)


def read_wav(path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        rate = w.getframerate()
    if rate != RATE:
        raise SystemExit(f"{path}: {rate} Hz, expected {RATE}")
    return x


def trim(x: np.ndarray) -> np.ndarray:
    win = SR // 200
    n = len(x) // win
    rms = np.sqrt((x[: n * win].reshape(n, win) ** 2).mean(axis=1))
    loud = np.nonzero(rms > rms.max() * 10 ** (-40 / 20))[0]
    return x[loud[0] * win: (loud[-1] + 1) * win]


def voices(cache_dir: str | None) -> dict[str, dict[str, np.ndarray]]:
    """voice -> word -> trimmed clip at 16 kHz."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for wpm in PIPER_RATES:
        with app.speech_session(app.Choices(engine="piper", rate=wpm), cache_dir) as speech:
            out[f"piper-joe-{wpm}wpm"] = {w: trim(to16k(read_wav(speech.get(w.capitalize() + ".")[0])))
                                         for w in WORDS}
    with tempfile.TemporaryDirectory() as tmp:
        for v in ESPEAK_VOICES:
            clips = {}
            for w in WORDS:
                f = Path(tmp) / f"{w}.wav"
                subprocess.run(["espeak-ng", "-v", v, "-s", "150", "-w", str(f), w], check=True)
                with wave.open(str(f)) as wf:
                    x = np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2")
                    r = wf.getframerate()
                if r != RATE:
                    raise SystemExit(f"espeak-ng wrote {r} Hz")
                clips[w] = trim(to16k(x))
            out[f"espeak-{v}"] = clips
    return out


# ---------------------------------------------------------------- noise


def shaped_noise(n: int, rng, slope: float) -> np.ndarray:
    """Noise with power falling as f**-slope (1: pink), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    x = np.fft.irfft(spec / f ** (slope / 2), n)
    return x / np.sqrt((x ** 2).mean())


def band(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / SR)
    spec[(f < lo) | (f > hi)] = 0
    y = np.fft.irfft(spec, len(x))
    return y / (np.sqrt((y ** 2).mean()) or 1)


def breathing(n: int, rng, phase: float) -> np.ndarray:
    """Slow breathing: a 4 s in-breath and a 6 s out-breath, each a burst of airy noise with a
    raised-cosine envelope (the out-breath softer and lower)."""
    t = np.arange(n) / SR
    cyc = (t + phase) % 10.0
    env_in = np.where(cyc < 4.0, np.sin(np.pi * np.clip(cyc / 4.0, 0, 1)) ** 2, 0.0)
    env_out = np.where(cyc >= 4.0, 0.7 * np.sin(np.pi * np.clip((cyc - 4.0) / 6.0, 0, 1)) ** 2, 0.0)
    return band(rng.standard_normal(n), 300, 2500) * env_in + band(rng.standard_normal(n), 150, 1200) * env_out


def room_noise(n: int, rng, phase: float) -> np.ndarray:
    """Room tone, a faint mains hum, and breathing 6 dB over the room tone: unit RMS."""
    t = np.arange(n) / SR
    x = shaped_noise(n, rng, 1.0) + 0.3 * np.sin(2 * np.pi * 50 * t) + 2.0 * breathing(n, rng, phase)
    return x / np.sqrt((x ** 2).mean())


def power(x: np.ndarray) -> float:
    return float((x ** 2).mean())


# ---------------------------------------------------------------- spotting


def phrases_for(thresholds: dict[str, float]) -> dict[str, tuple[str, float]]:
    return {w: (WORDS[w], thr) for w, thr in thresholds.items()}


def spot(spotter: listen.Spotter, x: np.ndarray) -> list[tuple[str, float]]:
    """Feed x in capture-sized chunks (one silence); (phrase, seconds at the chunk's end)."""
    pcm = np.clip(x, -32768, 32767).astype("<i2").tobytes()
    hits = []
    for i in range(0, len(pcm), 2 * CHUNK):
        w = spotter.feed(pcm[i: i + 2 * CHUNK])
        if w is not None:
            hits.append((w, min(len(pcm), i + 2 * CHUNK) / 2 / SR))
    # the silence ends: what was heard so far is decoded, as the listener does
    if (w := spotter.flush()) is not None:
        hits.append((w, len(pcm) / 2 / SR))
    return hits


def make_trials(clips, take: int, snr: float):
    """(voice, word, audio, word start s, word end s) for one take at one SNR."""
    rng = np.random.default_rng(1000 * take + int(snr))
    trials = []
    for v, words in clips.items():
        for w, clip in words.items():
            pre, post = 0.7, 1.6
            n = int((pre + post) * SR) + len(clip)
            noise = room_noise(n, rng, rng.uniform(0, 10))
            noise *= np.sqrt(power(clip) / 10 ** (snr / 10))
            x = noise.copy()
            s = int(pre * SR)
            x[s: s + len(clip)] += clip
            trials.append((v, w, x, pre, pre + len(clip) / SR))
    return trials


def run_trials(spotter, trials):
    """Per trial: the hits; and CPU seconds over audio seconds."""
    out, cpu, audio = [], 0.0, 0.0
    for v, w, x, s, e in trials:
        c0 = time.process_time()
        hits = spot(spotter, x)
        cpu += time.process_time() - c0
        audio += len(x) / SR
        out.append((v, w, s, e, hits))
    return out, cpu / audio


def daily_audio(cache_dir: str | None, seed: int = 7):
    """The daily session (Piper) with its room echo at 16 kHz, its speech power, and its
    listening windows."""
    choices = app.Choices(engine="piper", side="left")
    prepared = app.prepare(app.open_library(()), "daily", choices)
    from sisessions.output.render import render

    with app.speech_session(choices, cache_dir) as speech:
        tl = app.plan(prepared, speech)
        pcm = b"".join(render(tl, speech))
    dry = to16k(np.frombuffer(pcm, dtype="<i2"))
    rng = np.random.default_rng(seed)
    # the room: an exponentially decaying noise tail (RT60 0.5 s) 10 dB under the direct sound
    ir_n = int(0.6 * SR)
    ir = rng.standard_normal(ir_n) * np.exp(-np.arange(ir_n) / SR * 6.91 / 0.5)
    ir *= np.sqrt(10 ** (-10 / 10) / (ir ** 2).sum())
    wet = dry.copy()
    block = 1 << 18
    nfft = 1 << int(np.ceil(np.log2(block + ir_n)))
    H = np.fft.rfft(ir, nfft)
    for i in range(0, len(dry), block):
        seg = dry[i: i + block]
        y = np.fft.irfft(np.fft.rfft(seg, nfft) * H, nfft)[: len(seg) + ir_n]
        wet[i: i + len(y)] += y[: len(wet) - i]
    # speech power over the voiced 20 ms windows, as for the words
    win = SR // 50
    k = len(dry) // win
    r = (dry[: k * win].reshape(k, win) ** 2).mean(axis=1)
    speech_power = float(r[r > r.max() * 1e-4].mean())
    windows = []
    for c in tl.cues:
        if c.kind == "pause":
            a = c.start / RATE + OUTPUT_QUEUE + listen.ECHO_TAIL
            b = c.end / RATE
            if b - a > 0.1:
                windows.append((int(a * SR), int(b * SR)))
    return wet, speech_power, windows, len(dry) / SR


def with_noise(wet: np.ndarray, speech_power: float, snr: float, seed: int = 11) -> np.ndarray:
    """The session plus a minute of room noise and breathing, looped (a whole session's worth
    of fresh noise in one FFT takes gigabytes), at `snr` dB under the speech."""
    n = 60 * SR
    noise = room_noise(n, np.random.default_rng(seed), 0.0) * np.sqrt(speech_power / 10 ** (snr / 10))
    reps = -(-len(wet) // n)
    return wet + np.tile(noise, reps)[: len(wet)]


def false_triggers(spotter, heard, windows, gated: bool):
    hits, cpu, audio = [], 0.0, 0.0
    spans = windows if gated else [(0, len(heard))]
    for a, b in spans:
        c0 = time.process_time()
        h = spot(spotter, heard[a:b])
        cpu += time.process_time() - c0
        audio += (b - a) / SR
        hits += [(w, a / SR + t) for w, t in h]
    return hits, audio, cpu


# ---------------------------------------------------------------- scoring


def score(results, words):
    """word -> (detected, trials, latencies, confusions)."""
    out = {w: [0, 0, [], 0] for w in words}
    for v, w, s, e, hits in results:
        if w not in out:
            continue
        out[w][1] += 1
        good = [t for p, t in hits if p == w and s - 0.2 <= t <= e + 1.5]
        if good:
            out[w][0] += 1
            out[w][2].append(good[0] - e)
        out[w][3] += sum(1 for p, _ in hits if p != w)
    return out


def tune(clips, heard_windows, cache_dir) -> dict[str, float]:
    """One confidence level for every phrase: the strictest that keeps the most detections on
    take A at 10 and 20 dB (less twice the confusions), among levels with no gated false
    trigger on the daily session."""
    trials = make_trials(clips, 0, 20) + make_trials(clips, 0, 10)
    best: dict[str, tuple] = {}
    for level in LEVELS:
        sp = listen.Spotter(phrases_for({w: level for w in WORDS}))
        res, _ = run_trials(sp, trials)
        sc = score(res, WORDS)
        fts = {}
        for heard, windows in heard_windows:
            for w, _ in false_triggers(sp, heard, windows, gated=True)[0]:
                fts[w] = fts.get(w, 0) + 1
        confused = {}
        for v, w, s, e, hits in res:
            for p, _ in hits:
                if p != w:
                    confused[p] = confused.get(p, 0) + 1
        print(f"  level {level:g}: " + ", ".join(
            f"{w} {sc[w][0]}/{sc[w][1]} ft{fts.get(w, 0)} cf{confused.get(w, 0)}" for w in WORDS), flush=True)
        key = (not fts, sum(sc[w][0] - 2 * confused.get(w, 0) for w in WORDS), level)
        if "all" not in best or key > best["all"][0]:
            best["all"] = (key, level)
    return {w: best["all"][1] for w in WORDS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", help="the audio cache (default: the project's, or SISESSIONS_CACHE)")
    ap.add_argument("--tune", action="store_true", help="sweep confidence levels on take A first and use the best")
    args = ap.parse_args()
    print(f"uptime: {os.popen('uptime').read().strip()}")
    t0 = time.monotonic()
    clips = voices(args.cache_dir)
    print(f"voices: {', '.join(clips)} ({time.monotonic() - t0:.0f} s to make)", flush=True)
    wet, speech_power, windows, session_s = daily_audio(args.cache_dir)
    daily = {snr: (with_noise(wet, speech_power, snr), windows) for snr in (20, 10)}
    del wet
    listen_s = sum(b - a for a, b in windows) / SR
    print(f"daily: {session_s / 60:.1f} min, {len(windows)} listening windows, {listen_s / 60:.1f} min listened "
          f"({time.monotonic() - t0:.0f} s so far)", flush=True)
    if args.tune:
        print("tuning on take A (level: detected/trials, ft = gated false triggers at 10 dB, cf = confusions):")
        chosen = tune(clips, [daily[10]], args.cache_dir)
        print("chosen: " + ", ".join(f"{w} {t:g}" for w, t in chosen.items()))
        thresholds = chosen
    else:
        thresholds = {w: thr for w, (_, thr) in listen.PHRASES.items()}
    words = list(thresholds)
    sp = listen.Spotter(phrases_for(thresholds))
    print(f"\nreported on take B with {', '.join(f'{w} {t:g}' for w, t in thresholds.items())}")
    cpus = []
    for snr in (20, 10):
        res, cpu = run_trials(sp, make_trials({v: {w: c for w, c in ws.items() if w in words}
                                               for v, ws in clips.items()}, 1, snr))
        cpus.append(cpu)
        sc = score(res, words)
        print(f"{snr} dB SNR: word      detected  latency median/max (s)  confusions")
        for w in words:
            d, n, lat, cf = sc[w]
            ls = f"{np.median(lat):.2f} / {max(lat):.2f}" if lat else "-"
            print(f"          {w:9s} {d:2d}/{n:2d} {100 * d / n:4.0f} %  {ls:>14s}          {cf}")
    for snr, (heard, windows) in daily.items():
        for gated in (True, False):
            hits, audio, cpu = false_triggers(sp, heard, windows, gated)
            cpus.append(cpu / audio)
            what = "gated as played" if gated else "without the gate"
            per_hour = len(hits) / (session_s / 3600)
            print(f"false triggers, daily + echo + noise at {snr} dB, {what}: {len(hits)} in {session_s / 60:.1f} min "
                  f"({per_hour:.1f}/hour of session; {audio / 60:.1f} min heard)"
                  + (f": {', '.join(f'{w}@{t:.0f}s' for w, t in hits[:8])}" if hits else ""))
    print(f"CPU of the spotter while listening: {100 * max(cpus):.1f} % of one core at most "
          f"({100 * min(cpus):.1f} % at least)")
    print(f"uptime: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
