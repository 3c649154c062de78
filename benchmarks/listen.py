"""Spoken commands and answers (`play --listen`): detection, confusions, latency, false
triggers and CPU of the spotter (sisessions.play.spotter.Spotter: voiced stretches decoded by
pocketsphinx with one small grammar, kept when their confidence against a free phone loop is
high enough), on synthetic voices, tuned on some voices and reported on voices never used for
tuning.

    .venv/bin/python benchmarks/listen.py [--cache-dir DIR] [--tune] [--no-daily]

Words: the commands ("pause", "continue", "resume", "next", "skip", "back", "repeat", "stop")
and "yes"/"no" (a confirmation), heard with the commands' grammar; "left"/"right"/"same" with
the side question's grammar; "zero".."ten" with the pain question's (play.listen.Listener.ask;
a question's grammar holds the commands too, so a command said is heard as itself and ignored).

Voices. Tuning: Piper (joe, the bundled voice) at 80, 110 and 150 wpm through sisessions.voice,
and espeak-ng's en-us m3, f3, f5 and British f2 at 150 wpm. Held out (never used to choose
anything): flite's slt, rms, awb and kal16 (`apt-get install flite`). Synthetic voices are not
people: these figures say how the recogniser copes with voices it was not tuned on, not how it
will hear you.

Each clip is put 0.7 s into a noise bed of room noise (1/f noise, low hum) and slow breathing
(band-passed noise bursts with raised-cosine envelopes: a 4 s in-breath, a 6 s out-breath) at
20 dB and 10 dB SNR (speech power over the word / noise power), in two takes with different
noise and breath phase. --tune chooses one confidence level per grammar (commands with yes/no,
side, pain) on the tuning voices' take A; detection is reported on the tuning voices' take B and
on both takes of the held-out voices. After a hit the spotter is reset and the tone's time and
the echo tail are skipped, as the listener does; a further hit in the same trial is a phantom.

False triggers: the whole `daily` session (Piper), with a room echo (an exponentially decaying
noise tail, RT60 0.5 s, 10 dB under the direct sound), room noise and breathing at 20 dB and
10 dB under the speech, fed to the spotter exactly as `play --listen` gates it: only in the
silences, from 0.15 s (the output's queue) + ECHO_TAIL after each sound, a fresh utterance per
silence; with each grammar. Latency: from the end of the word (the clip's last loud 5 ms
window) to the end of the 100 ms capture chunk after which the spotter reported it; add up to
one period (PERIOD_MS) for the capture. CPU: process time of the spotter per second of audio,
as a percentage of one core. Never run as a test.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import wave
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sisessions import app  # noqa: E402
from sisessions.audio import RATE, ffmpeg_exe  # noqa: E402
from sisessions.play import listen  # noqa: E402
from sisessions.sources import tone  # noqa: E402
from sisessions.play import spotter as S  # noqa: E402

SR = S.MIC_RATE
CHUNK = SR * listen.PERIOD_MS // 1000
HOLD = tone.SECONDS + listen.ECHO_TAIL     # after a hit: the tone, then the echo tail, unheard
GROUPS = {"commands": list(S.PHRASES), "confirm": list(S.CONFIRM), **{k: list(a) for k, a in S.ANSWERS.items()}}
GRAMMAR_OF = {w: g for g, ws in GROUPS.items() for w in ws}
ENDING = {p for p, (a, _) in S.PHRASES.items() if a in listen.PROMPTS}
PIPER_RATES = (80, 110, 150)
ESPEAK_VOICES = ("en-us+m3", "en-us+f3", "en-us+f5", "en+f2")
FLITE_VOICES = ("slt", "rms", "awb", "kal16")
LEVELS = (-40.0, -30.0, -25.0, -20.0, -15.0, -10.0, -5.0)   # confidence, per 10 ms frame
OUTPUT_QUEUE = 0.15       # the player's latency: quiet() waits for it after a sound ends


def to16k(pcm: np.ndarray, rate: int) -> np.ndarray:
    """int16 at `rate` -> float at 16 kHz (ffmpeg's resampler)."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "-",
                          "-f", "s16le", "-ar", str(SR), "-ac", "1", "-"],
                         input=pcm.astype("<i2").tobytes(), capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.float64)


def read_wav(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()


def trim(x: np.ndarray) -> np.ndarray:
    win = SR // 200
    n = len(x) // win
    rms = np.sqrt((x[: n * win].reshape(n, win) ** 2).mean(axis=1))
    loud = np.nonzero(rms > rms.max() * 10 ** (-40 / 20))[0]
    return x[loud[0] * win: (loud[-1] + 1) * win]


def tool_clips(cmd) -> dict[str, np.ndarray]:
    """word -> clip made by a command line tool writing a WAV (cmd(word, path))."""
    clips = {}
    with tempfile.TemporaryDirectory() as tmp:
        for w in GRAMMAR_OF:
            f = Path(tmp) / f"{w}.wav"
            subprocess.run(cmd(w, str(f)), check=True, capture_output=True)
            clips[w] = trim(to16k(*read_wav(f)))
    return clips


def tuning_voices(cache_dir: str | None) -> dict[str, dict[str, np.ndarray]]:
    """voice -> word -> trimmed clip at 16 kHz: Piper and espeak-ng."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for wpm in PIPER_RATES:
        with app.speech_session(app.Choices(engine="piper", rate=wpm), cache_dir) as speech:
            out[f"piper-joe-{wpm}wpm"] = {w: trim(to16k(*read_wav(speech.get(w.capitalize() + ".")[0])))
                                         for w in GRAMMAR_OF}
    for v in ESPEAK_VOICES:
        out[f"espeak-{v}"] = tool_clips(lambda w, f, v=v: ["espeak-ng", "-v", v, "-s", "150", "-w", f, w])
    return out


def held_out_voices() -> dict[str, dict[str, np.ndarray]]:
    """voice -> word -> clip: flite's voices, never used to choose anything."""
    return {f"flite-{v}": tool_clips(lambda w, f, v=v: ["flite", "-voice", v, "-t", w, "-o", f])
            for v in FLITE_VOICES}


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


def spot(spotter: S.Spotter, x: np.ndarray, grammar: str) -> list[tuple[str, float]]:
    """Feed x in capture-sized chunks (one silence) with `grammar`; (phrase, seconds at the
    chunk's end). After a hit, the spotter is reset and HOLD seconds go unheard (the tone)."""
    spotter.use(grammar)
    spotter.reset()
    pcm = np.clip(x, -32768, 32767).astype("<i2").tobytes()
    hits, deaf_until = [], -1.0
    for i in range(0, len(pcm), 2 * CHUNK):
        t = min(len(pcm), i + 2 * CHUNK) / 2 / SR
        if t <= deaf_until:
            continue
        w = spotter.feed(pcm[i: i + 2 * CHUNK])
        if w is not None:
            hits.append((w, t))
            spotter.reset()
            deaf_until = t + HOLD
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


def run_trials(spotter, trials, grammar: str | None = None):
    """Per trial (voice, word, start, end, hits); and CPU seconds over audio seconds. Each word
    is heard with its own grammar, or all with `grammar`."""
    out, cpu, audio = [], 0.0, 0.0
    for v, w, x, s, e in trials:
        c0 = time.process_time()
        hits = spot(spotter, x, grammar or GRAMMAR_OF[w])
        cpu += time.process_time() - c0
        audio += len(x) / SR
        out.append((v, w, s, e, hits))
    return out, cpu / audio


def outcome(w, s, e, hits):
    """(what the trial's word was heard as first: the word, another phrase or "nothing";
    phantom phrases heard after it; latency of a right hit)."""
    if not hits:
        return "nothing", [], None
    first, t = hits[0]
    if first == w and not s - 0.2 <= t <= e + 1.5:
        first = "late " + w
    return first, [p for p, _ in hits[1:]], (t - e if first == w else None)


# ---------------------------------------------------------------- scoring


def table(results, words):
    """word -> Counter of first outcomes, phantoms Counter, latencies."""
    out = {w: (Counter(), Counter(), []) for w in words}
    for v, w, s, e, hits in results:
        if w not in out:
            continue
        first, extra, lat = outcome(w, s, e, hits)
        out[w][0][first] += 1
        out[w][1].update(extra)
        if lat is not None:
            out[w][2].append(lat)
    return out


def detection_rows(per_set, words):
    """Markdown rows: word | per (set, snr): right/trials %."""
    rows = []
    for w in words:
        cells = []
        for tab in per_set:
            c = tab[w][0]
            n = sum(c.values())
            cells.append(f"{100 * c[w] / n:.0f} % ({c[w]}/{n})" if n else "-")
        rows.append(f"| {w} | " + " | ".join(cells) + " |")
    return rows


def confusion_rows(tab, words):
    rows = []
    for w in words:
        c, extra, lat = tab[w]
        n = sum(c.values())
        wrong = ", ".join(f"{p} {k}" for p, k in c.most_common() if p not in (w, "nothing"))
        ph = ", ".join(f"{p} {k}" for p, k in extra.most_common())
        ls = f"{np.median(lat):.2f} / {max(lat):.2f}" if lat else "-"
        rows.append(f"| {w} | {c[w]}/{n} | {c['nothing']} | {wrong or '-'} | {ph or '-'} | {ls} |")
    return rows


def total(tab, words):
    right = sum(tab[w][0][w] for w in words)
    n = sum(sum(tab[w][0].values()) for w in words)
    return right, n


def safety(commands_tab, confirm_tab):
    """(trials whose first hit was an ending command other than the word said: they only ask;
    trials of a command word heard with the confirmation's grammar (a command said while "yes" is
    awaited) in which "yes" was heard; those trials)."""
    asked = sum(k for w in S.PHRASES for p, k in commands_tab[w][0].items()
                if p in ENDING and S.PHRASES[p][0] != S.PHRASES[w][0])
    yes = sum(confirm_tab[w][0]["yes"] + confirm_tab[w][1]["yes"] for w in S.PHRASES)
    return asked, yes, sum(sum(confirm_tab[w][0].values()) for w in S.PHRASES)


# ---------------------------------------------------------------- the daily session


def daily_audio(cache_dir: str | None, seed: int = 7):
    """The daily session (Piper) with its room echo at 16 kHz, its speech power, and its
    listening windows."""
    choices = app.Choices(engine="piper", side="left")
    prepared = app.prepare(app.open_library(()), "daily", choices)
    from sisessions.output.render import render

    with app.speech_session(choices, cache_dir) as speech:
        tl = app.plan(prepared, speech)
        pcm = b"".join(render(tl, speech))
    dry = to16k(np.frombuffer(pcm, dtype="<i2"), RATE)
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


def false_triggers(spotter, heard, windows, grammar: str):
    hits, cpu, audio = [], 0.0, 0.0
    for a, b in windows:
        c0 = time.process_time()
        h = spot(spotter, heard[a:b], grammar)
        cpu += time.process_time() - c0
        audio += (b - a) / SR
        hits += [(w, a / SR + t) for w, t in h]
    return hits, audio, cpu


def tune(clips, daily10) -> dict[str, float]:
    """One level per grammar: the strictest that keeps the most right answers on the tuning
    voices' take A at 10 and 20 dB (less twice the wrong ones and phantoms), among levels with no
    gated false trigger of that grammar on the daily session at 10 dB."""
    trials = make_trials(clips, 0, 20) + make_trials(clips, 0, 10)
    best: dict[str, tuple] = {}
    for level in LEVELS:
        sp = S.Spotter(levels={w: level for w in GRAMMAR_OF})
        tab = table(run_trials(sp, trials)[0], GRAMMAR_OF)
        line = []
        for g, words in GROUPS.items():
            fts = [w for w, _ in false_triggers(sp, *daily10, g)[0] if w in words] if daily10 else []
            right = sum(tab[w][0][w] for w in words)
            wrong = sum(k for w in words for p, k in tab[w][0].items() if p not in (w, "nothing"))
            wrong += sum(sum(tab[w][1].values()) for w in words)
            key = (not fts, right - 2 * wrong, level)
            if g not in best or key > best[g][0]:
                best[g] = (key, level)
            line.append(f"{g}: right {right}, wrong {wrong}, false triggers {len(fts)}")
        print(f"  level {level:g}: " + "; ".join(line), flush=True)
    return {w: best[g][1] for g, words in GROUPS.items() for w in words}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache-dir", help="the audio cache (default: the project's, or SISESSIONS_CACHE)")
    ap.add_argument("--tune", action="store_true", help="choose the levels on the tuning voices' take A first")
    ap.add_argument("--no-daily", action="store_true", help="skip the false triggers over the daily session")
    args = ap.parse_args()
    print(f"uptime: {os.popen('uptime').read().strip()}")
    t0 = time.monotonic()
    tuning, held = tuning_voices(args.cache_dir), held_out_voices()
    print(f"tuning voices: {', '.join(tuning)}; held out: {', '.join(held)} "
          f"({time.monotonic() - t0:.0f} s to make)", flush=True)
    daily = {}
    if not args.no_daily:
        wet, speech_power, windows, session_s = daily_audio(args.cache_dir)
        daily = {snr: (with_noise(wet, speech_power, snr), windows) for snr in (20, 10)}
        del wet
        print(f"daily: {session_s / 60:.1f} min, {len(windows)} listening windows, "
              f"{sum(b - a for a, b in windows) / SR / 60:.1f} min listened", flush=True)
    if args.tune:
        print("tuning on the tuning voices' take A:")
        levels = tune(tuning, daily.get(10))
    else:
        levels = {w: lvl for g in S.grammars().values() for w, lvl in g.items()}
    print("levels: " + ", ".join(f"{g} {levels[ws[0]]:g}" for g, ws in GROUPS.items()))
    sp = S.Spotter(levels=levels)
    tabs, cpus = {}, []
    sure = {}
    for snr in (20, 10):
        trials = {"tuning": make_trials(tuning, 1, snr), "held": make_trials(held, 0, snr) + make_trials(held, 1, snr)}
        for which, ts in trials.items():
            res, cpu = run_trials(sp, ts)
            tabs[which, snr] = table(res, GRAMMAR_OF)
            cpus.append(cpu)
            said = [t for t in ts if t[1] in S.PHRASES]
            sure[which, snr] = table(run_trials(sp, said, "confirm")[0], S.PHRASES)
        print(f"{snr} dB done ({time.monotonic() - t0:.0f} s)", flush=True)
    order = [("tuning", 20), ("tuning", 10), ("held", 20), ("held", 10)]
    for g, words in GROUPS.items():
        print(f"\n### {g}: heard right (first thing heard is the word said, within 1.5 s)\n")
        print("| word | tuning voices 20 dB | tuning 10 dB | held-out (flite) 20 dB | held-out 10 dB |")
        print("| --- | --- | --- | --- | --- |")
        print("\n".join(detection_rows([tabs[k] for k in order], words)))
        tot = [total(tabs[k], words) for k in order]
        print("| **all** | " + " | ".join(f"**{100 * r / n:.0f} %** ({r}/{n})" for r, n in tot) + " |")
        for snr in (20, 10):
            print(f"\nheld-out voices, {snr} dB: what each word was heard as first (and phantoms after it)\n")
            print("| said | right | nothing | heard as | phantom after | latency median / max (s) |")
            print("| --- | --- | --- | --- | --- | --- |")
            print("\n".join(confusion_rows(tabs["held", snr], words)))
    print("\nsafety: an ending command heard for another word only asks for a yes; a command said "
          "while the yes is awaited could be taken for it")
    for k in order:
        asked, yes, others = safety(tabs[k], sure[k])
        print(f"  {k[0]} {k[1]} dB: asked by a confusion {asked}; 'yes' heard for a command {yes} of {others}")
    for snr, (heard, windows) in daily.items():
        for g in GROUPS:
            hits, audio, cpu = false_triggers(sp, heard, windows, g)
            cpus.append(cpu / audio)
            print(f"false triggers, daily + echo + noise at {snr} dB, gated as played, {g}: {len(hits)} "
                  f"in {audio / 60:.1f} min heard" + (f": {', '.join(f'{w}@{t:.0f}s' for w, t in hits[:8])}" if hits else ""))
    print(f"CPU of the spotter while listening: {100 * max(cpus):.1f} % of one core at most "
          f"({100 * min(cpus):.1f} % at least)")
    print(f"uptime: {os.popen('uptime').read().strip()}")


if __name__ == "__main__":
    main()
