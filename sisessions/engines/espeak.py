"""The `espeak` engine: pyttsx3 with espeak-ng on Linux, pyttsx3's native voices elsewhere."""
from __future__ import annotations

import ctypes.util
import functools
import os
import sys

from sisessions.engines.base import Engine, dist_version

# pyttsx3's espeak rate is espeak's own "words per minute", which came out ~19% faster than
# asked when measured on the audio (rate 120 -> ~143 wpm); this factor makes --rate true.
RATE_FACTOR = 0.84
LINUX = sys.platform.startswith("linux")
DEFAULT_VOICE = "gmw/en-us" if LINUX else ""


@functools.lru_cache(maxsize=1)
def _system_library() -> str | None:
    if os.environ.get("SISESSIONS_ESPEAK_BUNDLED"):
        return None
    return ctypes.util.find_library("espeak-ng")


class EspeakEngine(Engine):
    name = "espeak"
    label = "eSpeak NG through pyttsx3 (robotic but tiny and fast)"
    install_hint = "pip install pyttsx3 espeakng-loader"
    requires = ("pyttsx3",)
    synth_class = "sisessions.engines.espeak:EspeakSynth"

    def version(self) -> str:
        lib = _system_library() if LINUX else sys.platform
        lib = lib or f"bundled-{dist_version('espeakng-loader')}"
        return f"pyttsx3-{dist_version('pyttsx3')}/{lib}"

    def resolve_voice(self, voice):
        v = voice or DEFAULT_VOICE
        return v, v  # checked against the engine's list in the worker

    def params_for_rate(self, wpm):
        return {"rate": round(wpm * RATE_FACTOR)}


def _load_espeak_library() -> None:
    """Give pyttsx3 the espeak-ng library from espeakng-loader when the system has none."""
    if not LINUX or _system_library():
        return
    import espeakng_loader

    os.environ["ESPEAK_DATA_PATH"] = espeakng_loader.get_data_path()
    # pyttsx3 opens "libespeak-ng.so.1"; a library already loaded with that soname is reused.
    ctypes.CDLL(espeakng_loader.get_library_path(), mode=ctypes.RTLD_GLOBAL)


class EspeakSynth:
    """Runs inside the worker process only."""

    def __init__(self, voice: str, params: dict):
        _load_espeak_library()
        import pyttsx3

        self.engine = pyttsx3.init("espeak" if LINUX else None)
        if voice:
            self.engine.setProperty("voice", self._find(voice))
        self.engine.setProperty("rate", int(params["rate"]))

    def _find(self, voice: str) -> str:
        wanted = voice.lower()
        for v in self.engine.getProperty("voices"):
            names = [v.id, v.name] + [str(x) for x in (v.languages or [])]
            names += [n.split("/")[-1] for n in names]
            if wanted in (n.lower() for n in names if n):
                return v.id
        raise LookupError(f"unknown voice '{voice}' for the espeak engine; `sisessions engines --voices` lists them")

    def voices(self) -> list[dict]:
        return [{"id": v.id, "name": v.name} for v in self.engine.getProperty("voices")]

    def synthesize(self, text: str, out: str) -> None:
        if LINUX:
            self._synthesize_espeak(text, out)
        else:
            # One utterance per runAndWait: the drivers mix queued utterances otherwise.
            self.engine.save_to_file(text, out)
            self.engine.runAndWait()
        if not os.path.exists(out) or os.path.getsize(out) <= 44:
            raise RuntimeError("espeak produced no audio")

    def _synthesize_espeak(self, text: str, out: str) -> None:
        """pyttsx3's espeak driver loop can end before an utterance is written (seen here on
        the first utterance, and under load), and then writes it into the next call's file.
        So the driver sets voice and rate, and synthesis runs through pyttsx3's own espeak-ng
        bindings here: one utterance, collected in full, then espeak_Synchronize."""
        import wave

        from pyttsx3.drivers import _espeak

        chunks: list[bytes] = []

        def collect(wav, numsamples, events):
            if numsamples > 0:
                chunks.append(ctypes.string_at(wav, numsamples * 2))
            return 0

        self._callback = collect  # keep a reference: espeak calls it from C
        _espeak.SetSynthCallback(collect)
        _espeak.Synth(text.encode("utf-8"), flags=_espeak.ENDPAUSE | _espeak.CHARS_UTF8)
        _espeak.Synchronize()
        with wave.open(out, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(22050)  # espeak-ng's own output rate
            w.writeframes(b"".join(chunks))
