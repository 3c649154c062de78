"""`--minutes N`: scale a session's repetitions and silences so its plan lasts about N minutes,
and below what scaling reaches, leave whole items out in an order the session can state."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from sisessions.errors import OptionError, UsageError
from sisessions.plan.timeline import PlanOptions, estimated
from sisessions.script.library import Library
from sisessions.script.model import Item, Session

TOLERANCE = 0.05          # the promise: the session lasts within ±5% of the request
# The fit works on the plan with estimated speech, which real clips miss by 1-2 %; aiming
# within 3.5 % keeps the real session within the promised 5 %, also at the ends of the range.
AIM = 0.035
# Sane bounds. Repetitions go from half to double (never below one); silences from half to
# 1.6 times, and the timeline never shortens a pause below its minimum (SPEC: movement and
# release keep their time), so shrinking mostly removes repetitions, which is the kind way:
# fewer movements done slowly, never the same movements hurried.
REPS = (0.5, 2.0)
SILENCE = (0.5, 1.6)
_STEPS = 16               # bisection steps: far finer than one repetition of any pattern


# The order items are left out in when scaling alone cannot reach a short length (README):
# `optional: true` items first, then lower `priority` first (1..9, default 5), then by stage,
# the later stages first: a short morning keeps the gentle loosening (unlock) that the
# reshaping and reinforcing work builds on; then the longest item first (fewest items lost);
# then the later item first. The first and the last item (arriving, getting up slowly) stay,
# and so does an item whose pattern has no stage (a transition such as getting up before the
# standing patterns) unless the item says `optional: true`, and an item that says `keep: true`
# (unlock's Gentle Spine Waves: the source calls it a necessary step to unlock).
STAGE_ORDER = {"reinforce": 0, "reshape": 1, "unlock": 2, None: 3}


@dataclass(frozen=True)
class Fitted:
    """A session fitted to --minutes: the session as it will be played (items left out, if any),
    the scaled options and the items that were left out, in the order they went."""

    session: Session
    opts: PlanOptions
    left_out: tuple[Item, ...] = ()


def fit(session: Session, library: Library, opts: PlanOptions, minutes: float) -> Fitted:
    """Scale the session to N minutes ±5%; when N is below what scaling reaches, leave out whole
    items (see STAGE_ORDER) one at a time until it can be scaled to N. UsageError when even the
    fewest items cannot, or N is above the longest."""
    target = minutes * 60.0
    order = leave_out_order(session, library, opts)
    droppable = list(order)
    dropped: list[int] = []
    current = session
    while True:
        below = target < _Lengths(current, library, opts)(REPS[0], SILENCE[0]) / (1 + AIM)
        if not (below and order):
            try:
                fitted = fit_options(current, library, opts, minutes)
                return Fitted(current, fitted, tuple(session.items[i] for i in dropped))
            except UsageError as e:
                gap = "cannot be fitted" in str(e)  # a step between repetition counts
                if not (gap and dropped and order):  # else one item less may land on it
                    if gap and not dropped:
                        raise
                    raise _range_error(session, library, opts, minutes, droppable) from None
        dropped.append(order.pop(0))
        current = without(session, dropped)


def _range_error(session: Session, library: Library, opts: PlanOptions, minutes: float,
                 droppable: list[int]) -> UsageError:
    """'out of reach' with the range from every droppable item left out to the longest scaling."""
    shortest = _Lengths(without(session, droppable), library, opts)(REPS[0], SILENCE[0])
    longest = _Lengths(session, library, opts)(REPS[1], SILENCE[1])
    return OptionError("minutes", f"--minutes {minutes:g} is out of reach for '{session.id}': "
                      f"{reachable(shortest, longest)}")


def without(session: Session, indices) -> Session:
    """The session with the items at these indices left out."""
    gone = set(indices)
    return replace(session, items=tuple(it for i, it in enumerate(session.items) if i not in gone))


def leave_out_order(session: Session, library: Library, opts: PlanOptions) -> list[int]:
    """Indices of the items that may be left out, first to go first (see STAGE_ORDER)."""
    playing = [i for i, it in enumerate(session.items) if it.pattern not in opts.skip]
    middle = [i for i in playing[1:-1]  # never the first or the last item being played
              if not session.items[i].keep
              and (session.items[i].optional or library.pattern(session.items[i].pattern).stage)]
    whole = estimated(session, library, opts).seconds

    def key(i: int):
        it = session.items[i]
        stage = library.pattern(it.pattern).stage
        length = whole - estimated(without(session, [i]), library, opts).seconds
        return (not it.optional, it.priority, STAGE_ORDER.get(stage, 3), -length, -i)

    return sorted(middle, key=key)


def fit_options(session: Session, library: Library, opts: PlanOptions, minutes: float) -> PlanOptions:
    """New options whose estimated plan lasts N minutes ±3.5% (so the real one ±5%), or
    UsageError with the reachable range."""
    target = minutes * 60.0
    length = _Lengths(session, library, opts)
    if length.fits(1.0, 1.0, target):
        return replace(opts, reps_scale=1.0, silence_scale=1.0)
    shortest, longest = length(REPS[0], SILENCE[0]), length(REPS[1], SILENCE[1])
    if not shortest / (1 + AIM) <= target <= longest / (1 - AIM):
        raise OptionError("minutes", f"--minutes {minutes:g} is out of reach for '{session.id}': "
                         f"{reachable(shortest, longest)}")
    r, s = _search(length, target)
    if r is None:  # a gap between two repetition counts that silences cannot bridge
        raise OptionError("minutes", f"--minutes {minutes:g} cannot be fitted for '{session.id}' within 5%; "
                         f"{reachable(shortest, longest)}, but not this exact length; try a minute more or less")
    return replace(opts, reps_scale=r, silence_scale=s)


def reachable(shortest: float, longest: float) -> str:
    """'it can last from about 12 to 48 minutes', the N that work, in whole minutes when possible."""
    lo, hi = shortest / (1 + AIM) / 60, longest / (1 - AIM) / 60
    a, b = math.ceil(lo), math.floor(hi)
    if a >= b:  # a short session: whole minutes would hide the range ("between 2 and 2")
        a, b = math.ceil(lo * 10) / 10, math.floor(hi * 10) / 10
    return f"it can be fitted to between {a:g} and {b:g} minutes"


class _Lengths:
    """Planned seconds for (reps_scale, silence_scale), remembered: the search asks again."""

    def __init__(self, session: Session, library: Library, opts: PlanOptions):
        self.session, self.library, self.opts = session, library, opts
        self.memo: dict[tuple[float, float], float] = {}

    def __call__(self, r: float, s: float) -> float:
        key = (r, s)
        if key not in self.memo:
            o = replace(self.opts, reps_scale=r, silence_scale=s)
            self.memo[key] = estimated(self.session, self.library, o).seconds
        return self.memo[key]

    def fits(self, r: float, s: float, target: float) -> bool:
        return abs(self(r, s) - target) <= AIM * target


def _path(t: float) -> tuple[float, float]:
    """One monotone path through the scales: t=-1 shortest, 0 as written, 1 longest."""
    if t < 0:
        return REPS[0] ** -t, SILENCE[0] ** -t
    return REPS[1] ** t, SILENCE[1] ** t


def _search(length: _Lengths, target: float) -> tuple[float | None, float | None]:
    """The scales that fit best, close to 'as written'; (None, None) when nothing is within 5%.

    The length grows with t but in steps (repetitions are whole), so bisect t to the step
    that crosses the target, then on either side of the step keep the repetitions and tune
    the silences alone to land as near the target as they can.
    """
    lo, hi = -1.0, 1.0
    for _ in range(_STEPS):
        mid = (lo + hi) / 2
        if length(*_path(mid)) < target:
            lo = mid
        else:
            hi = mid
    (r_lo, s_lo), (r_hi, s_hi) = _path(lo), _path(hi)
    # Silences first move the same way as repetitions (a shorter session never gets longer
    # pauses); only when that cannot bridge the step may they move the other way.
    coherent = (SILENCE[0], 1.0) if hi <= 0 else (1.0, SILENCE[1])
    for band in (coherent, SILENCE):
        candidates = [(r_lo, s_lo), (r_hi, s_hi),
                      (r_lo, _bisect_silence(length, r_lo, max(s_lo, band[0]), band[1], target)),
                      (r_hi, _bisect_silence(length, r_hi, band[0], min(s_hi, band[1]), target))]
        fitting = [c for c in candidates if length.fits(*c, target)]
        if fitting:
            return min(fitting, key=lambda c: abs(length(*c) - target))
    return None, None


def _bisect_silence(length: _Lengths, r: float, a: float, b: float, target: float) -> float:
    """The silence scale in [a, b] whose length is nearest the target, repetitions held at r."""
    for _ in range(_STEPS):
        mid = (a + b) / 2
        if length(r, mid) < target:
            a = mid
        else:
            b = mid
    return min((a, b), key=lambda s: abs(length(r, s) - target))
