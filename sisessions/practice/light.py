"""The pain-monitoring light (SPEC §8): green, amber or red from the pain entries of the log.

After the pain-monitoring model of Silbernagel et al. (2007), with the thresholds of the
programme's `pain:` block (script.model.PainRules); a change of 2 on the 0-10 scale is the
smallest change that matters in back pain (Ostelo et al. 2008), hence the default `rise`.

- green: pain after the last session at most `green`, and morning pain less than `rise` above
  its median over the `baseline_days` days before: go on;
- amber: pain after the last session above `green` and at most `amber`, settled by the next
  morning (or not known yet): the same session again;
- red: pain after it above `amber`, not settled by the next morning, or morning pain `rise` or
  more above its median: a shorter, gentler session.
"Settled" means the next morning's pain is at most `green`, or no higher than the morning
before the session (else the median). Only entries of the last `baseline_days` days decide.
"""
from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from sisessions.practice import log
from sisessions.script.model import PainRules

GREEN, AMBER, RED = "green", "amber", "red"
REFER_PAIN = 8  # the latest pain this high or higher: see a professional before going on


def _d(day: dt.date) -> str:
    return day.isoformat()


def _ordered(records: list[log.Record]) -> list[log.Record]:
    """Records by their time (a `--date` entry written later still lands on its own day)."""
    return sorted(records, key=lambda r: dt.datetime.fromisoformat(r.time).timestamp())


@dataclass(frozen=True)
class Light:
    colour: str
    reason: str  # one clause naming the numbers and dates that decided it


class Pains:
    """The pain entries of a log by day, and the light they give on a day."""

    def __init__(self, records: list[log.Record], rules: PainRules):
        self.rules = rules
        self.after: dict[dt.date, int] = {}
        self.morning: dict[dt.date, int] = {}
        self.played: set[dt.date] = set()
        self.pains: list[log.Pain] = []
        for r in _ordered(records):
            if isinstance(r, log.Pain):
                if r.when == "after":
                    self.after[r.day] = r.pain
                elif r.when == "morning":
                    self.morning[r.day] = r.pain
                self.pains.append(r)
            elif isinstance(r, log.Play) and (r.completed or r.minutes >= log.PRACTICE_MINUTES):
                self.played.add(r.day)

    # ------------------------------------------------------------ pieces

    def _window(self, day: dt.date, first: int, last: int):
        """The days from `day - first` to `day - last`, newest first (the window is a week or
        so: looking days up, never scanning a year of entries)."""
        return (day - dt.timedelta(days=k) for k in range(last, first + 1))

    def median_before(self, day: dt.date) -> float | None:
        """The median morning pain over the `baseline_days` days before `day`."""
        values = [self.morning[d] for d in self._window(day, self.rules.baseline_days, 1) if d in self.morning]
        return statistics.median(values) if values else None

    def _last_after(self, day: dt.date, own: bool) -> tuple[dt.date, int] | None:
        """The pain after the last session before `day` (or on it, with `own`), within the
        window; None when a later session had no entry (its pain is not known)."""
        for d in self._window(day, self.rules.baseline_days, 0 if own else 1):
            if d in self.after:
                return d, self.after[d]
            if d in self.played:
                return None  # a later session without a check-in: its pain is not known
        return None

    def settled(self, session_day: dt.date) -> tuple[bool, int] | None:
        """(settled, pain) for the morning after a session; None when it was not recorded."""
        nxt = session_day + dt.timedelta(days=1)
        if nxt not in self.morning:
            return None
        m = self.morning[nxt]
        before = self.morning.get(session_day, self.median_before(nxt))
        return (m <= self.rules.green or (before is not None and m <= before)), m

    def _rise(self, day: dt.date) -> tuple[int, float, dt.date] | None:
        """(pain, median, date) when the latest morning (`day` or the day before) rose `rise`
        or more above its median; None otherwise."""
        for d in (day, day - dt.timedelta(days=1)):
            if d in self.morning:
                base = self.median_before(d)
                m = self.morning[d]
                if base is not None and m - base >= self.rules.rise:
                    return m, base, d
                return None
        return None

    def _morning_note(self, day: dt.date) -> str:
        for d in (day, day - dt.timedelta(days=1)):
            if d in self.morning:
                base = self.median_before(d)
                if base is None:
                    return f"morning pain {self.morning[d]}/10 on {_d(d)}"
                return (f"morning pain {self.morning[d]}/10 on {_d(d)}, within {self.rules.rise} of its "
                        f"{self.rules.baseline_days}-day median ({base:g}/10)")
        return ""

    # ------------------------------------------------------------ the light

    def light(self, day: dt.date, own: bool = True) -> Light:
        """The light on `day`: from the pain after the last session (with `own`, also one on
        `day` itself: the decision for the next session) and the morning entries."""
        g, a = self.rules.green, self.rules.amber
        last = self._last_after(day, own)
        rise = self._rise(day)
        reds = []
        if last and last[1] > a:
            reds.append(f"pain after the session on {_d(last[0])} was {last[1]}/10, above {a}")
        elif last and last[1] > g:
            s = self.settled(last[0])
            if s and not s[0]:
                reds.append(f"pain after the session on {_d(last[0])} was {last[1]}/10 and not settled "
                            f"by the next morning ({s[1]}/10 on {_d(last[0] + dt.timedelta(days=1))})")
        if rise:
            m, base, d = rise
            reds.append(f"morning pain {m}/10 on {_d(d)} is {m - base:g} above its "
                        f"{self.rules.baseline_days}-day median ({base:g}/10)")
        if reds:
            return Light(RED, " and ".join(reds))
        morning = self._morning_note(day)
        if last and last[1] > g:
            s = self.settled(last[0])
            nxt = last[0] + dt.timedelta(days=1)
            settled = (f"settled by the next morning ({s[1]}/10 on {_d(nxt)})" if s
                       else "not yet known to settle by the next morning" if nxt >= day
                       else "with no morning entry the day after")
            return Light(AMBER, f"pain after the session on {_d(last[0])} was {last[1]}/10 "
                                f"(above {g}, at most {a}), {settled}")
        parts = []
        if last:
            parts.append(f"pain after the session on {_d(last[0])} was {last[1]}/10 (at most {g})")
        if morning:
            parts.append(morning)
        if not parts:
            return Light(GREEN, f"no pain after a session or in the morning recorded in the last "
                                f"{self.rules.baseline_days} days")
        return Light(GREEN, " and ".join(parts))

    def red_day(self, day: dt.date) -> bool:
        """Whether the entries made on `day` itself were red (for the refer rule)."""
        r = self.rules
        if self.after.get(day, -1) > r.amber:
            return True
        if day in self.morning:
            base = self.median_before(day)
            if base is not None and self.morning[day] - base >= r.rise:
                return True
            prev = day - dt.timedelta(days=1)
            if r.green < self.after.get(prev, -1) <= r.amber:
                s = self.settled(prev)
                if s and not s[0]:
                    return True
        return False

    def refer(self, on: dt.date) -> str | None:
        """Why to see a doctor or physiotherapist before going on, or None: the latest pain is
        8 or more, or the last `refer_after` days with pain entries were all red."""
        latest = [p for p in self.pains if p.day <= on]
        if latest and latest[-1].pain >= REFER_PAIN:
            return f"the latest pain, on {_d(latest[-1].day)}, was {latest[-1].pain}/10"
        n = self.rules.refer_after
        judged = sorted(d for d in set(self.after) | set(self.morning) if d <= on)[-n:]
        if len(judged) == n and all(self.red_day(d) for d in judged) \
                and on - judged[-1] <= dt.timedelta(days=self.rules.baseline_days):
            return (f"the pain was in the red on {n} days in a row with entries "
                    f"({', '.join(_d(d) for d in judged)})")
        return None
