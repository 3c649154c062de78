"""What the microphone heard: voiced stretches of a silence, each decoded by pocketsphinx
against one small grammar (the commands, a confirmation, or the answers to a closed question) and kept only if the grammar explains it nearly as well as a free phone loop does.

pocketsphinx ships its US English model in the wheel, so nothing is downloaded and nothing
leaves the machine. Nothing is written: at most the last KEEP samples of the current silence
stay in memory. play.listen gates the microphone and acts on what this module hears.
"""
from __future__ import annotations

import os

MIC_RATE = 16000          # the rate pocketsphinx's acoustic model was trained at

# The confidence a phrase needs: how much better, per 10 ms frame, its grammar explains the
# stretch than a free phone loop does (log base 1.0001; 0 means as well). Chosen by
# `benchmarks/listen.py --tune` on the tuning voices (Piper, espeak-ng); README has the figures,
# reported on voices never used for tuning (flite).
LEVEL = -25.0

# What each spoken command does (a method of play.controls.Controller), and its level.
# "resume" and "skip" are alternates; "go back" was tried and left out: the grammar then took
# "stop" and "back" for a cut-off "go".
PHRASES: dict[str, tuple[str, float]] = {
    "pause": ("pause", LEVEL),
    "continue": ("resume", LEVEL),
    "resume": ("resume", LEVEL),
    "next": ("next", LEVEL),
    "skip": ("next", LEVEL),
    "back": ("back", LEVEL),
    "repeat": ("repeat", LEVEL),
    "stop": ("stop", LEVEL),
}

# The answer to a confirmation (play.listen), heard with the commands: a command said again
# is heard as itself, not taken for "yes". Not in the commands' own grammar: there "no" took
# "back" and "stop" in noise (benchmarks/listen.py).
CONFIRM: dict[str, bool] = {"yes": True, "no": False}

# Closed questions (play.listen.Listener.ask): kind -> spoken answer -> the value returned.
# Levels other than LEVEL, chosen like it: the strictest with the most right answers.
LEVELS: dict[str, float] = {"yes": -20.0, "no": -20.0, "left": -20.0, "right": -20.0, "same": -20.0}

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
ANSWERS: dict[str, dict[str, object]] = {
    "side": {"left": "left", "right": "right", "same": "same"},
    "pain": {w: i for i, w in enumerate(NUMBERS)},
}

FRAME = MIC_RATE // 100        # pocketsphinx's frames (and the voicing hop) are 10 ms
WIN = 3 * FRAME                # the voicing window: 30 ms, at least two pitch periods
KEEP = 4 * MIC_RATE            # samples of the current silence held in memory, never more
PAD_BEFORE = 0.3               # seconds before the first voiced frame given to the decoder
HANG = 0.3                     # seconds without voicing that end a stretch (and after it)
MAX_VOICED = 2.5               # a longer voiced stretch is talk, not a command: not decoded
VOICED_MIN = 0.05              # seconds of voicing a stretch must have (noise and breath: none)
VOICING = 0.45                 # normalised autocorrelation peak that counts as pitched


def jsgf(phrases, name: str = "commands") -> str:
    """A grammar of any one of the phrases, alone."""
    return (f"#JSGF V1.0;\ngrammar {name};\npublic <{name}> = "
            + " | ".join(sorted(phrases)) + ";\n")


def voiced_frames(x):
    """Per 10 ms hop, whether the 30 ms window starting there is voiced: its pre-emphasised
    autocorrelation has a clear peak at a pitch period (80-400 Hz). Breath and room noise are
    unvoiced; every spoken command has a vowel."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    x = x[1:] - 0.7 * x[:-1]           # mild pre-emphasis: low rumble would look periodic
    if len(x) < WIN:
        return np.zeros(0, dtype=bool)
    frames = np.lib.stride_tricks.sliding_window_view(x, WIN)[::FRAME]
    frames = frames - frames.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(frames, 1024, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, 1024, axis=1)
    e = ac[:, 0]
    lo, hi = MIC_RATE // 400, MIC_RATE // 80
    # unbiased: a longer lag overlaps the window less (a low voice would otherwise look weak)
    peak = (ac[:, lo:hi] * (WIN / (WIN - np.arange(lo, hi)))).max(axis=1)
    return (e > 1e-3 * WIN) & (peak > VOICING * np.maximum(e, 1e-12))


def log_score(hyp) -> float:
    """A hypothesis' path score in pocketsphinx's own log base 1.0001 (the Python binding gives
    it exponentiated)."""
    import math

    return math.log(max(hyp.best_score, 1e-300)) / math.log(1.0001)


def grammars(phrases: dict[str, tuple[str, float]] | None = None,
             levels: dict[str, float] | None = None) -> dict[str, dict[str, float]]:
    """Grammar name -> phrase -> the level it needs: "commands"; "confirm" (the commands, yes
    and no: while an ending command waits for its yes); "side" (left, right, same and the
    commands, so that a command said is heard as itself and ignored, not taken for a side);
    "pain" (zero..ten alone: `benchmarks/listen.py` found the commands in its grammar took "four"
    for "pause"). `levels` overrides any phrase's level."""
    phrases = PHRASES if phrases is None else phrases
    levels = {**LEVELS, **(levels or {})}
    commands = {p: levels.get(p, lvl) for p, (_, lvl) in phrases.items()}
    answers = {kind: {w: levels.get(w, LEVEL) for w in words} for kind, words in ANSWERS.items()}
    return {"commands": commands,
            "confirm": {**commands, **{w: levels.get(w, LEVEL) for w in CONFIRM}},
            "side": {**commands, **answers["side"]},
            "pain": answers["pain"]}


class Spotter:
    """Phrases in 16 kHz mono s16le chunks: a voiced stretch, once it ends, is decoded with the
    active grammar and kept only if it fits that grammar nearly as well as a free phone loop
    (pocketsphinx's allphone search) fits it. `use(name)` changes the grammar."""

    def __init__(self, phrases: dict[str, tuple[str, float]] | None = None,
                 levels: dict[str, float] | None = None):
        from pocketsphinx import Decoder

        self.phrases = PHRASES if phrases is None else phrases
        self.grammars = grammars(self.phrases, levels)
        self.decoder = Decoder(lm=None, samprate=MIC_RATE, logfn=os.devnull)
        for name, words in self.grammars.items():
            self.decoder.add_jsgf_string(name, jsgf(words, name))
        self.decoder.add_allphone_file("phones", None)   # uniform: acoustics alone
        self.active = "commands"
        self.last: tuple[str | None, float] = (None, 0.0)  # the last stretch: (phrase, confidence)
        self.reset()

    def use(self, grammar: str) -> None:
        """Listen for the phrases of `grammar` from now on (a new stretch starts from nothing)."""
        if grammar not in self.grammars:
            raise ValueError(f"no grammar {grammar!r}")
        if grammar != self.active:
            self.active = grammar
            self.reset()

    def reset(self) -> None:
        """Forget what was heard so far (a new silence starts from nothing)."""
        import numpy as np

        self._recent = np.zeros(0, dtype=np.int16)   # the last KEEP samples, never more
        self._fed = 0                  # samples since the silence started
        self._next = 0                 # sample where the next voicing window starts
        self._first = None             # sample of the current stretch's first voiced window
        self._last = None              # ... and its last
        self._voiced = 0               # voiced windows in the current stretch

    def feed(self, pcm: bytes) -> str | None:
        """The phrase heard in a stretch that ended with this chunk, or None."""
        import numpy as np

        x = np.frombuffer(pcm, dtype="<i2")
        self._recent = np.concatenate([self._recent, x])[-KEEP:]
        self._fed += len(x)
        base = self._fed - len(self._recent)
        # voicing of every whole window from self._next on (one sample before it for the
        # pre-emphasis)
        a = max(self._next - 1, base)
        flags = voiced_frames(self._recent[a - base:])
        starts = self._next + FRAME * np.arange(len(flags))
        if len(flags):
            self._next = int(starts[-1]) + FRAME
        for s in starts[flags]:
            s = int(s)
            if self._first is None:
                self._first = s
            self._last = s
            self._voiced += 1
        if self._first is None:
            return None
        hang = int(HANG * MIC_RATE)
        if self._fed - (self._last + WIN) < hang:
            return None
        lo = max(base, self._first - int(PAD_BEFORE * MIC_RATE))
        hi = min(self._fed, self._last + WIN + hang)
        seg = self._recent[lo - base: hi - base]
        enough = self._voiced * FRAME >= VOICED_MIN * MIC_RATE
        short = self._last - self._first <= MAX_VOICED * MIC_RATE
        self._drop()
        if not (enough and short):
            return None
        return self.decode(seg)

    def flush(self) -> str | None:
        """The silence ends (the session sounds again): the stretch heard so far, if any, is
        decoded now rather than lost (what the microphone heard before the gate closed holds
        none of the session's own sound), and everything is forgotten."""
        phrase = None
        if self._first is not None:
            base = self._fed - len(self._recent)
            lo = max(base, self._first - int(PAD_BEFORE * MIC_RATE))
            enough = self._voiced * FRAME >= VOICED_MIN * MIC_RATE
            if enough and self._last - self._first <= MAX_VOICED * MIC_RATE:
                phrase = self.decode(self._recent[lo - base:])
        self.reset()
        return phrase

    def _drop(self) -> None:
        self._first = self._last = None
        self._voiced = 0

    def _run(self, search: str, seg):
        d = self.decoder
        d.activate_search(search)
        d.start_utt()
        d.process_raw(seg.astype("<i2").tobytes(), False, True)
        d.end_utt()
        return d.hyp()

    def decode(self, seg, grammar: str | None = None) -> str | None:
        """The phrase of `grammar` (default: the active one) the stretch `seg` (int16 samples)
        is, if it is one confidently enough."""
        words = self.grammars[grammar or self.active]
        said = self._run(grammar or self.active, seg)
        if said is None or said.hypstr not in words:
            self.last = (None, 0.0)
            return None
        loop = self._run("phones", seg)
        frames = max(1, self.decoder.n_frames())
        conf = (log_score(said) - (log_score(loop) if loop else log_score(said))) / frames
        self.last = (said.hypstr, conf)
        return said.hypstr if conf >= words[said.hypstr] else None
