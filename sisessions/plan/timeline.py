"""Session model + side/pace/skip -> a timeline of cues at exact sample frames (pure data)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Callable, Iterable

from sisessions.audio import RATE
from sisessions.errors import OptionError, ScriptError, UsageError
from sisessions.script.library import Library
from sisessions.script.model import (
    Breathe,
    Chime,
    Loc,
    Pattern,
    Pause,
    Repeat,
    Say,
    Session,
)

MAX_SECONDS = 3 * 3600
MAX_EVENTS = 200_000
# Spoken first in every session, as three short cues: a short first line is ready quickly on
# a cold cache, so the voice starts soon after the opening chime.
SAFETY_LINES = ("A short reminder before we begin.",
                "This is gentle movement practice, not medical advice.",
                "Move slowly. Stop if a pain turns sharp; your usual ache is not a stop sign.",
                "If your pain is new, severe or getting worse, see a doctor or physiotherapist.")
SAFETY_LINE = " ".join(SAFETY_LINES)
BREATHE_IN = "Breathe in."
BREATHE_OUT = "And out."
CHIME_SECONDS = 2.0
CHIME_FRAMES = int(CHIME_SECONDS * RATE)
SIDE_HOWTO = ("this session needs your working side, the side your self-check finds deeper: "
              "do the check session first (sisessions play check), then add --side left or "
              "--side right, or save it with `sisessions side set left` (or right)")
# SPEC §2.2: at any --pace or --minutes, no release is planned with less than 8 s of silence
# and no rest with less than 6 s (a stricter floor than the cues' whole length: speech adds to it)
PHASE_FLOORS = {"release": 8.0, "rest": 6.0}

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_word(n: int) -> str:
    """1..100 as a spoken word, capitalised, with a full stop: 'Twenty-one.'."""
    if n == 100:
        w = "one hundred"
    elif n < 20:
        w = _ONES[n]
    else:
        w = _TENS[n // 10] + ("" if n % 10 == 0 else "-" + _ONES[n % 10])
    return w[0].upper() + w[1:] + "."


@dataclass(frozen=True)
class PlanOptions:
    side: str | None = None          # the person's working side: left | right, or both (evenly)
    pace: float = 1.0                # pauses, breaths and rests multiplied
    skip: frozenset[str] = frozenset()
    reps_scale: float = 1.0          # --minutes fitting: repetitions multiplied (rounded, >= 1)
    silence_scale: float = 1.0       # --minutes fitting: silences multiplied (never below minimums)
    wpm: int = 110                   # for estimating speech before it is synthesized


class Kind(StrEnum):
    """What a cue is (SPEC §4: a `breathe` step becomes its `say` and `pause` cues)."""

    SAY = "say"
    PAUSE = "pause"
    CHIME = "chime"


@dataclass(frozen=True)
class Event:
    """An untimed cue: what to say, how long to be silent, or a chime."""

    kind: Kind
    text: str | None = None
    seconds: float | None = None      # pause length, already scaled by pace
    pattern: str | None = None
    side: str | None = None
    item: int | None = None           # index of the session item (None: intro, outro, rests)
    minimum: float = 0.0              # the shortest this pause may be made by --minutes fitting
    phase: str | None = None          # tighten | release | rest | move (SPEC §2.2), or None


@dataclass(frozen=True)
class Cue:
    start: int                        # sample frame at RATE
    frames: int
    kind: Kind
    text: str | None = None
    pattern: str | None = None
    side: str | None = None
    item: int | None = None
    phase: str | None = None

    @property
    def end(self) -> int:
        return self.start + self.frames


@dataclass(frozen=True)
class Timeline:
    session: str
    title: str
    side: str | None
    pace: float
    cues: tuple[Cue, ...]
    titles: dict = field(default_factory=dict, compare=False)  # pattern id -> title
    rate: int = RATE

    @property
    def frames(self) -> int:
        return self.cues[-1].end if self.cues else 0

    @property
    def seconds(self) -> float:
        return self.frames / self.rate

    def to_json_dict(self) -> dict:
        ms = lambda frames: round(frames * 1000 / self.rate)  # noqa: E731
        cues = []
        for c in self.cues:
            s, e = ms(c.start), ms(c.end)
            cues.append({"start": s / 1000, "duration": (e - s) / 1000, "kind": c.kind, "text": c.text,
                         "pattern": c.pattern, "side": c.side, "item": c.item, "phase": c.phase})
        return {"session": self.session, "title": self.title, "side": self.side, "pace": self.pace,
                "duration": ms(self.frames) / 1000, "cues": cues}

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), indent=1, ensure_ascii=False)


def duration_text(seconds: float) -> str:
    """H:MM:SS or M:SS: how lengths are written to the person everywhere."""
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def seconds_to_frames(seconds: float) -> int:
    return int(round(seconds * RATE))


def estimate_speech_seconds(text: str, wpm: int) -> float:
    """A guess of a line's spoken length before synthesis: words at the rate plus the edges
    (measured 0.13-0.14 s a line for both engines, whose clips are paced to words / rate)."""
    return len(text.split()) * 60.0 / wpm + 0.15


def other_side(side: str) -> str:
    return "right" if side == "left" else "left"


class _Expander:
    """Turns a session into events, keeping a running estimate to stop runaway repeats early."""

    def __init__(self, session: Session, library: Library, opts: PlanOptions, lenient: bool = False):
        self.lenient = lenient  # validating a lone pattern: a session may give its repeat counts
        self.session = session
        self.library = library
        self.opts = opts
        self.events: list[Event] = []
        self.estimate = 0.0
        self.blame: Loc | None = None  # the outermost repeat (or item) being expanded

    def add(self, ev: Event) -> None:
        self.events.append(ev)
        if ev.kind == Kind.SAY:
            self.estimate += estimate_speech_seconds(ev.text, self.opts.wpm)
        elif ev.kind == Kind.PAUSE:
            self.estimate += ev.seconds
        else:
            self.estimate += CHIME_SECONDS
        if self.estimate > MAX_SECONDS or len(self.events) > MAX_EVENTS:
            raise self._too_long()

    def _too_long(self) -> UsageError:
        """The 3-hour limit's message: blame the options when the session as written fits
        (`--pace 3` is not a runaway repeat), else the script's line."""
        o = self.opts
        written = replace(o, pace=1.0, reps_scale=1.0, silence_scale=1.0, wpm=max(o.wpm, PlanOptions.wpm))
        if written != o:
            plain = _Expander(self.session, self.library, written, self.lenient)
            try:
                plain.run()
            except ScriptError:
                pass  # too long as written too: the script is to blame
            else:
                names, advice = [], []
                if o.pace != 1.0:
                    names.append(f"--pace {o.pace:g}")
                    advice.append("a smaller --pace")
                if o.wpm < written.wpm:
                    names.append(f"--rate {o.wpm}")
                    advice.append("a faster --rate")
                if (o.reps_scale, o.silence_scale) != (1.0, 1.0):
                    names.append("--minutes")
                    advice.append("fewer --minutes")
                return UsageError(f"with {' and '.join(names)} the session would last more than 3 hours "
                                  f"(about {plain.estimate / 60:.0f} minutes as written); "
                                  f"choose {' or '.join(advice)}")
        loc = self.blame or self.session.loc
        return ScriptError([loc.problem(
            "the session would last more than 3 hours; check the repeat counts and pauses")])

    def silence(self, seconds: float, minimum: float = 0.0, phase: str | None = None, **ctx) -> None:
        o = self.opts
        scaled = seconds * o.pace * o.silence_scale
        floor = minimum * o.pace
        self.add(Event(Kind.PAUSE, seconds=max(scaled, floor) if o.silence_scale < 1 else scaled,
                       minimum=floor, phase=phase, **ctx))

    def steps(self, pat: Pattern, steps, reps: int | None, rep: tuple[int, int] | None,
              item_loc: Loc, ctx: dict):
        s, side = self.session, ctx["side"]
        for st in steps:
            if isinstance(st, Say):
                text = st.text
                if side is not None:
                    text = text.replace("{side}", side).replace("{other_side}", other_side(side))
                if rep is not None:
                    text = text.replace("{rep}", str(rep[0])).replace("{reps}", str(rep[1]))
                self.add(Event(Kind.SAY, text=text, phase=st.phase, **ctx))
            elif isinstance(st, Pause):
                self.silence(st.seconds, minimum=_min_silence(st.seconds), phase=st.phase, **ctx)
            elif isinstance(st, Breathe):
                for _ in range(st.count):
                    if st.cue:
                        self.add(Event(Kind.SAY, text=BREATHE_IN, **ctx))
                        self.silence(s.breath_in, minimum=s.breath_in, **ctx)
                        self.add(Event(Kind.SAY, text=BREATHE_OUT, **ctx))
                        self.silence(s.breath_out, minimum=s.breath_out, **ctx)
                    else:
                        self.silence(s.breath_in + s.breath_out, minimum=s.breath_in + s.breath_out, **ctx)
            elif isinstance(st, Repeat):
                times = st.times or reps or pat.repetitions
                if times is None:  # SPEC §2.2: from the repeat, the item's override or the pattern
                    if not self.lenient:
                        raise ScriptError([st.loc.problem(
                            "repeat needs 'times' (or 'repetitions' on the pattern or on the session's item)")])
                    times = 1
                if st.times is None or self.opts.reps_scale != 1.0:
                    times = max(1, min(100, round(times * self.opts.reps_scale)))
                saved = self.blame
                # A runaway is blamed on the outermost repeat, or on the session's item when
                # its `repetitions` override set the count.
                if self.blame is item_loc and not (st.times is None and reps is not None):
                    self.blame = st.loc
                for i in range(1, times + 1):
                    if st.count:
                        self.add(Event(Kind.SAY, text=number_word(i), **ctx))
                    self.steps(pat, st.steps, reps, (i, times), item_loc, ctx)
                self.blame = saved
            elif isinstance(st, Chime):
                self.add(Event(Kind.CHIME, **ctx))

    def run(self) -> tuple[Event, ...]:
        s, o = self.session, self.opts
        unknown = sorted(o.skip - {it.pattern for it in s.items})
        if unknown:
            raise OptionError("skip", f"--skip {unknown[0]}: that pattern is not in session '{s.id}'")
        items = [(i, it) for i, it in enumerate(s.items) if it.pattern not in o.skip]
        if not items:
            raise UsageError("every pattern of this session is skipped; there is nothing left to play")
        if s.chime:  # a soft bell says "it has started" at once, even while the voice warms up
            self.add(Event(Kind.CHIME))
        if s.intro:  # SPEC §2.3: the intro is spoken first; the safety line follows it
            self.add(Event(Kind.SAY, text=s.intro))
        for line in SAFETY_LINES:
            self.add(Event(Kind.SAY, text=line))
        first = True
        for index, it in items:
            pattern = self.library.pattern(it.pattern)
            for side in _sides(pattern, it.side, o.side):
                if not first:
                    self.silence(s.rest_between, minimum=min(s.rest_between, 5.0))
                first = False
                ctx = dict(pattern=pattern.id, side=side, item=index)
                self.blame = it.loc
                if s.chime:
                    self.add(Event(Kind.CHIME, **ctx))
                self.steps(pattern, pattern.steps, it.repetitions, None, it.loc, ctx)
                self.blame = None
        if s.chime:
            self.add(Event(Kind.CHIME))
        if s.outro:
            self.add(Event(Kind.SAY, text=s.outro))
        return with_floors(self.events)


def with_floors(events: list[Event]) -> tuple[Event, ...]:
    """The events with every release and rest given at least its floor of silence (PHASE_FLOORS):
    a run of events of one phase that falls short has its last pause lengthened, or a pause
    added at its end when it has none."""
    out: list[Event] = []
    i = 0
    while i < len(events):
        ev = events[i]
        j = i + 1
        if ev.phase in PHASE_FLOORS:
            while j < len(events) and (events[j].phase, events[j].item, events[j].side) == (ev.phase, ev.item, ev.side):
                j += 1
        run = events[i:j]
        floor = PHASE_FLOORS.get(ev.phase, 0.0)
        silent = sum(e.seconds for e in run if e.kind == Kind.PAUSE)
        if silent < floor:
            last = max((k for k, e in enumerate(run) if e.kind == Kind.PAUSE), default=None)
            if last is None:
                run.append(Event(Kind.PAUSE, seconds=floor, pattern=ev.pattern, side=ev.side,
                                 item=ev.item, minimum=floor, phase=ev.phase))
            else:
                e = run[last]
                more = floor - (silent - e.seconds)  # exactly the floor when it is the only pause
                run[last] = replace(e, seconds=more, minimum=max(e.minimum, more))
        out.extend(run)
        i = j
    return tuple(out)


def _min_silence(seconds: float) -> float:
    """How short --minutes fitting may make a written pause: movement and release need their
    time, so a pause of up to 10 s is kept whole and a longer one never drops below 10 s."""
    return min(seconds, 10.0)


BOTH = "both"  # PlanOptions.side when the check could not tell: every sided item on both sides


def _sides(pattern: Pattern, item_side: str, working: str | None) -> list[str | None]:
    if not pattern.sided:
        return [None, None] if item_side == "both" else [None]
    if item_side in ("left", "right"):
        return [item_side]
    if working is None and item_side == "both":  # both sides need no working side: left first
        return ["left", "right"]
    if working is None:
        raise UsageError(SIDE_HOWTO)
    if working == BOTH:  # no side is guessed: working, other and both items all get both sides
        return ["left", "right"]
    if item_side == "working":
        return [working]
    if item_side == "other":
        return [other_side(working)]
    return [working, other_side(working)]


def expand(session: Session, library: Library, opts: PlanOptions, lenient: bool = False) -> tuple[Event, ...]:
    """The session's events in order, without speech lengths. Raises on a runaway session.
    `lenient` lets a repeat without any count run once (for checking a lone pattern file)."""
    return _Expander(session, library, opts, lenient).run()


def place(session: Session, library: Library, events: Iterable[Event], opts: PlanOptions,
          speech_frames: Callable[[str], int]) -> Timeline:
    """Give every event its exact start frame; speech lengths come from `speech_frames`."""
    cues, t = [], 0
    for ev in events:
        if ev.kind == Kind.SAY:
            n = speech_frames(ev.text)
        elif ev.kind == Kind.PAUSE:
            n = seconds_to_frames(ev.seconds)
        else:
            n = CHIME_FRAMES
        if n <= 0:
            continue
        cues.append(Cue(t, n, ev.kind, ev.text, ev.pattern, ev.side, ev.item, ev.phase))
        t += n
    titles = {it.pattern: library.pattern(it.pattern).title for it in session.items}
    return Timeline(session.id, session.title, opts.side, opts.pace, tuple(cues), titles)


def estimated(session: Session, library: Library, opts: PlanOptions) -> Timeline:
    """The plan with speech lengths guessed from word counts: for `list`, fitting and checks."""
    events = expand(session, library, opts)
    return place(session, library, events, opts,
                 lambda text: seconds_to_frames(estimate_speech_seconds(text, opts.wpm)))
