"""When a schedule runs: the user's time and days, and the same days in cron's, systemd's and plain words."""
from __future__ import annotations

import re
from collections.abc import Iterable

from sisessions.errors import UsageError

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron numbering: 0 = Sunday
_FULL_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_DAY_WORDS = {"daily": range(7), "everyday": range(7), "weekdays": range(1, 6), "weekends": (0, 6)}
_MONDAY_FIRST = (1, 2, 3, 4, 5, 6, 0)


def parse_time(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text or "")
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise UsageError(f"--at {text}: expected a time of day like 07:30 (24-hour clock, HH:MM)")
    return int(m.group(1)), int(m.group(2))


def parse_days(text: str) -> frozenset[int]:
    """`mon-fri`, `sat,sun`, `fri-mon`, `weekdays`, `weekends`, `daily`, or cron's day numbers.

    Numbers mean what they mean to cron, so that a line copied from a crontab does what it did
    there: 0 and 7 are both Sunday, a range runs upward and may end at 7 (`0-7` and `1-7` are
    every day, `5-7` is fri-sun), and `*/2` or `1-5/2` step through them. Day names may wrap
    around the week (`fri-mon`), which cron's numbers cannot.
    """
    words = (text or "").strip().lower()
    if words in ("", "*"):
        return frozenset(range(7))
    if words in _DAY_WORDS:
        return frozenset(_DAY_WORDS[words])
    days: set[int] = set()
    for part in words.split(","):
        try:
            days.update(_part(part.strip()))
        except ValueError:
            raise UsageError(f"--days {text}: expected day names like mon-fri, sat,sun or daily, "
                             "or cron's day numbers 0-7 (0 and 7 are both Sunday)") from None
    return frozenset(days)


def _part(part: str) -> Iterable[int]:
    span, slash, step_text = part.partition("/")
    step = 1
    if slash:  # cron steps through `*` or a range only
        if not step_text.isdigit() or int(step_text) == 0 or not (span == "*" or "-" in span):
            raise ValueError(part)
        step = int(step_text)
    ends = ["0", "7"] if span == "*" else span.split("-")
    if len(ends) > 2:
        raise ValueError(part)
    if all(e.isdigit() for e in ends):  # cron's numbers, with cron's meaning
        a, b = int(ends[0]), int(ends[-1])
        if b > 7 or a > b:  # cron refuses a range that runs backwards
            raise ValueError(part)
        return {d % 7 for d in range(a, b + 1, step)}
    if slash:
        raise ValueError(part)
    a, b = (_day(e) for e in (ends[0], ends[-1]))
    return range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)]  # fri-mon wraps


def _day(word: str) -> int:
    word = word.strip()
    if word.isdigit() and int(word) <= 7:
        return int(word) % 7  # a number at one end of a named range, as in mon-5
    for i, name in enumerate(_FULL_NAMES):
        if len(word) >= 3 and name.startswith(word):  # mon, tues, thursday
            return i
    raise ValueError(word)


def _runs(days: frozenset[int]) -> list[tuple[int, int]]:
    """Consecutive runs of days in Monday-first order, so that mon-fri stays one range."""
    runs: list[list[int]] = []
    for d in _MONDAY_FIRST:
        if d in days:
            if runs and _MONDAY_FIRST.index(runs[-1][-1]) == _MONDAY_FIRST.index(d) - 1:
                runs[-1].append(d)
            else:
                runs.append([d])
    return [(r[0], r[-1]) for r in runs]


def days_text(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "daily"
    return ",".join(DAY_NAMES[a] if a == b else f"{DAY_NAMES[a]}-{DAY_NAMES[b]}" for a, b in _runs(days))


def cron_days(days: frozenset[int]) -> str:
    """The day-of-week field: Sunday closes the week as 7 so that sat,sun stays the range 6-7."""
    if len(days) == 7:
        return "*"
    return ",".join(str(a) if a == b else f"{a}-{b if b else 7}" for a, b in _runs(days))


def calendar_days(days: frozenset[int]) -> str:
    """The days part of a systemd OnCalendar= value, with its space ("" for every day)."""
    if len(days) == 7:
        return ""
    parts = (_SYSTEMD_DAYS[a] if a == b else f"{_SYSTEMD_DAYS[a]}..{_SYSTEMD_DAYS[b]}" for a, b in _runs(days))
    return ",".join(parts) + " "
