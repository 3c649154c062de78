"""The `espeak` engine: pyttsx3 with espeak-ng on Linux, pyttsx3's native voices elsewhere."""
from __future__ import annotations

import ctypes.util
import functools
import os
import subprocess
import sys

from sisessions.voice.engines.base import Engine, dist_version
from sisessions.voice.phrasing import ARTICULATION

# espeak's own "rate" is not what comes out: measured on the trimmed audio of phrases
# (benchmarks/calibrate.py), espeak speaks 1.35 words per minute per unit of rate.
WPM_PER_RATE = 1.35
ESPEAK_RATES = (80, 450)  # espeak-ng's own limits
LINUX = sys.platform.startswith("linux")
DEFAULT_VOICE = "gmw/en-us" if LINUX else ""


@functools.lru_cache(maxsize=1)
def _system_library() -> str | None:
    if os.environ.get("SISESSIONS_ESPEAK_BUNDLED"):
        return None
    return ctypes.util.find_library("espeak-ng")


@functools.lru_cache(maxsize=1)
def _library_identity() -> str:
    """Which espeak-ng library speaks, cheaply: the system one's real file with its size and
    time (an upgrade of the system package changes it, so no stale clip is served), or the
    bundled one's package version."""
    name = _system_library()
    if not name:
        return f"bundled-{dist_version('espeakng-loader')}"
    try:
        out = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, timeout=5).stdout
        path = next(ln.split("=>")[-1].strip() for ln in out.splitlines() if ln.strip().startswith(name + " "))
        real = os.path.realpath(path)
        st = os.stat(real)
        return f"{os.path.basename(real)}-{st.st_size}-{int(st.st_mtime)}"
    except (OSError, StopIteration, subprocess.SubprocessError):
        return name


class EspeakEngine(Engine):
    name = "espeak"
    label = "eSpeak NG through pyttsx3 (robotic but tiny and fast)"
    install_hint = "pip install pyttsx3 espeakng-loader"
    requires = ("pyttsx3",)
    synth_class = "sisessions.voice.engines.espeak:EspeakSynth"

    def version(self) -> str:
        lib = _library_identity() if LINUX else sys.platform
        return f"pyttsx3-{dist_version('pyttsx3')}/{lib}"

    def resolve_voice(self, voice):
        v = voice or DEFAULT_VOICE
        return v, v  # checked against the engine's list in the worker

    def params_for_rate(self, wpm):
        # The spoken part runs at ARTICULATION x wpm; the silences of phrasing.py slow it to wpm.
        lo, hi = ESPEAK_RATES
        return {"rate": min(max(round(ARTICULATION * wpm / WPM_PER_RATE), lo), hi)}


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
        voice_id = self._find(voice) if voice else None
        if LINUX:
            # pyttsx3 queues property changes until its loop runs, and _synthesize_espeak never
            # runs that loop: so voice and rate go to espeak-ng at once, through the driver.
            from pyttsx3.drivers.espeak import EspeakDriver

            if voice_id:
                EspeakDriver.setProperty("voice", voice_id)
            EspeakDriver.setProperty("rate", int(params["rate"]))
            return
        if voice_id:
            self.engine.setProperty("voice", voice_id)
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
        bindings here: one utterance, collected in full, then espeak_Synchronize. They are a
        private module of pyttsx3 (tests/test_layout.py fails first if they change)."""
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
