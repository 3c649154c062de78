"""The practice log: one JSON line per play, pain or check entry in the user data folder.

The file is `practice.jsonl` (JSON Lines, human-readable). Each record is appended with one
write on a file opened with O_APPEND, under an exclusive lock on that file, and then fsynced,
so two programs appending at once never interleave and a crash can at worst leave one torn
last line, which `read` reports and skips without losing the rest.

Records (shared with `sisessions today`):
  {"kind": "play", "time": ISO-8601 local time with offset, "session": id,
   "side": "left"|"right"|"both"|null, "pace": float, "engine": name, "completed": bool,
   "stopped_in": pattern id or null, "minutes": float}
  {"kind": "pain", "time": ..., "pain": 0..10, "note": str|null,
   "when": "after"|"morning"|"other"}       (a record without "when" reads as "other")
  {"kind": "check", "time": ..., "result": "left"|"right"|"same"}
Any record may carry a client-made "id" (text): a record whose id is already in the log is
not written again (`append_new`), so a phone that sends the same entry twice logs it once.

The file is the person's health data: 0600 in a 0700 folder, read bounded and only as a
regular file. A note is checked before anything is written, and shown escaped.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import unicodedata
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Union

from sisessions import paths
from sisessions.errors import UsageError
from sisessions.practice import logfile

FILE_NAME = "practice.jsonl"
# A day counts as practised when a session was played to its end, or for at least this long
# (a session stopped early because it hurt still counts when it was a real practice).
PRACTICE_MINUTES = 5.0
NOTE_MAX = 500
ID_MAX = 100
WHEN = ("after", "morning", "other")      # a pain entry: after a session, on waking, any other time
RESULTS = ("left", "right", "same")       # a check: the deeper side, or can't tell


class Kind(StrEnum):
    PLAY = "play"
    PAIN = "pain"
    CHECK = "check"


class BadRecord(ValueError):
    """A line of the log that parses as JSON but is not a record this version can use."""


def log_file() -> Path:
    return paths.data_dir() / FILE_NAME


def now() -> str:
    """The local time with its UTC offset, to the second: the person's own day and hour."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _day_of(time: str) -> dt.date:
    return dt.datetime.fromisoformat(time).date()


@dataclass(frozen=True)
class Play:
    """A session played (here, or elsewhere and recorded with `log --done` or the companion)."""

    time: str
    session: str
    side: str | None
    pace: float
    engine: str
    completed: bool
    stopped_in: str | None
    minutes: float
    id: str | None = None
    kind: Kind = Kind.PLAY

    @property
    def day(self) -> dt.date:
        return _day_of(self.time)


@dataclass(frozen=True)
class Pain:
    """How the back felt, 0 (none) to 10 (the worst), with an optional note."""

    time: str
    pain: int
    note: str | None = None
    when: str = "other"
    id: str | None = None
    kind: Kind = Kind.PAIN

    @property
    def day(self) -> dt.date:
        return _day_of(self.time)


@dataclass(frozen=True)
class Check:
    """A self-check before practice: the side that felt deeper, or "same" (can't tell)."""

    time: str
    result: str
    id: str | None = None
    kind: Kind = Kind.CHECK

    @property
    def day(self) -> dt.date:
        return _day_of(self.time)


Record = Union[Play, Pain, Check]


def time_on(day: dt.date, hour: int = 12) -> str:
    """The time to write for something that happened on `day`: now when it is today, else that
    day at `hour` local time (a `--date` entry for a past day)."""
    if day == dt.date.today():
        return now()
    return dt.datetime(day.year, day.month, day.day, hour).astimezone().isoformat(timespec="seconds")


def _time(when) -> str:
    if when is None:
        return now()
    if isinstance(when, dt.datetime):
        return when.astimezone().isoformat(timespec="seconds")
    if isinstance(when, dt.date):
        return time_on(when)
    _day_of(when)  # raises ValueError for a string that is not an ISO time
    return when


def _checked_id(rid) -> str | None:
    if rid is None:
        return None
    if not _id_ok(rid):
        raise UsageError(f"a record id is text of 1 to {ID_MAX} characters without control characters; got {rid!r}")
    return rid


def play_record(session: str, side: str | None, pace: float, engine: str, completed: bool,
                stopped_in: str | None, minutes: float, time: str | None = None,
                id: str | None = None) -> Play:
    return Play(time=time or now(), session=session, side=side, pace=float(pace), engine=engine,
                completed=bool(completed), stopped_in=None if completed else stopped_in,
                minutes=round(float(minutes), 2), id=_checked_id(id))


def _unsafe(c: str) -> bool:
    """A character that has no place in a note: controls (C0 but tab and newline, DEL, C1),
    line and paragraph separators, and lone surrogates (bytes that were not UTF-8)."""
    if c in "\t\n":
        return False
    return unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")


def check_note(note: str | None) -> str | None:
    """The note as it will be kept (stripped, None when empty); UsageError for a note that is
    too long or holds what could garble the log or its display."""
    if note is None:
        return None
    if not isinstance(note, str):
        raise UsageError("a note must be text")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise UsageError(f"a note is at most {NOTE_MAX} characters; this one has {len(note)}")
    bad = next((c for c in note if _unsafe(c)), None)
    if bad is not None:
        what = ("a byte that is not UTF-8 text" if unicodedata.category(bad) == "Cs"
                else f"a control character (U+{ord(bad):04X})")
        raise UsageError(f"the note holds {what}; write it as plain text")
    return note or None


def pain_record(pain: int, note: str | None = None, when: str = "other", time: str | None = None,
                id: str | None = None) -> Pain:
    """A pain entry; `when` says whether it was after a session, on waking, or at another time."""
    if isinstance(pain, bool) or not isinstance(pain, int) or not 0 <= pain <= 10:
        raise UsageError(f"pain must be a whole number from 0 to 10; got {pain!r}")
    if when not in WHEN:
        raise UsageError(f"a pain entry is for after, morning or other; got {when!r}")
    return Pain(time=time or now(), pain=pain, note=check_note(note), when=when, id=_checked_id(id))


def check_record(result: str, when: str | dt.date | dt.datetime | None = None,
                 id: str | None = None) -> Check:
    """A self-check; `when` is its time (an ISO time, a datetime, or a day), default now."""
    if result not in RESULTS:
        raise UsageError(f"a check is left, right or same; got {result!r}")
    return Check(time=_time(when), result=result, id=_checked_id(id))


def to_json(record: Record) -> dict:
    """The record as its JSON object, in the order of the fields documented above (an id only
    when the record has one)."""
    d = asdict(record)
    kind = d.pop("kind")
    if d.get("id") is None:
        d.pop("id", None)
    return {"kind": str(kind), **d}


# ---------------------------------------------------------------- reading, checking every field


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _optional_text(v) -> bool:
    return v is None or isinstance(v, str)


def _id_ok(v) -> bool:
    return (isinstance(v, str) and 0 < len(v) <= ID_MAX
            and not any(ord(c) < 32 or ord(c) == 127 for c in v))


_PLAY_FIELDS = {  # field: (check, what it must be)
    "session": (lambda v: isinstance(v, str) and bool(v), "a session id"),
    "side": (lambda v: v in (None, "left", "right", "both"), "left, right, both or null"),
    "pace": (lambda v: _number(v) and v > 0, "a positive number"),
    "engine": (lambda v: isinstance(v, str), "text"),
    "completed": (lambda v: isinstance(v, bool), "true or false"),
    "stopped_in": (_optional_text, "a pattern id or null"),
    "minutes": (lambda v: _number(v) and v >= 0, "a number of minutes"),
}
_PLAY_DEFAULTS = {"side": None, "pace": 1.0, "engine": "", "completed": False, "stopped_in": None,
                  "minutes": 0.0}
_PAIN_FIELDS = {
    "pain": (lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10,
             "a whole number from 0 to 10"),
    "note": (_optional_text, "text or null"),
    "when": (lambda v: v in WHEN, "after, morning or other"),
}
_PAIN_DEFAULTS = {"note": None, "when": "other"}
_CHECK_FIELDS = {
    "result": (lambda v: v in RESULTS, "left, right or same"),
}
_KINDS = {Kind.PLAY: (Play, _PLAY_FIELDS, _PLAY_DEFAULTS), Kind.PAIN: (Pain, _PAIN_FIELDS, _PAIN_DEFAULTS),
          Kind.CHECK: (Check, _CHECK_FIELDS, {})}


def from_json(obj) -> Record | None:
    """A record from one parsed line; None for a kind this version does not know (a newer
    version's record is left alone, not reported). Raises BadRecord saying what is wrong."""
    if not isinstance(obj, dict):
        raise BadRecord("not a JSON object")
    kind = obj.get("kind")
    if not isinstance(kind, str):
        raise BadRecord("no 'kind'")
    if kind not in _KINDS:
        return None
    time = obj.get("time")
    try:
        _day_of(time)
    except (TypeError, ValueError):
        raise BadRecord("no valid 'time'") from None
    cls, fields, defaults = _KINDS[Kind(kind)]
    values = dict(defaults)
    rid = obj.get("id")
    if rid is not None:
        if not _id_ok(rid):
            raise BadRecord(f"'id' is {json.dumps(rid)[:40]}, not a record id")
        values["id"] = rid
    for name, (ok, what) in fields.items():
        if name not in obj:
            if name in values:  # a field an earlier version did not write
                continue
            raise BadRecord(f"no '{name}'")
        if not ok(obj[name]):
            raise BadRecord(f"'{name}' is {json.dumps(obj[name])[:40]}, not {what}")
        values[name] = obj[name]
    return cls(time=time, **values)


def encode(record: Record) -> bytes:
    """The record's line as UTF-8; UsageError (nothing written) for text that is not UTF-8."""
    line = json.dumps(to_json(record), ensure_ascii=False, separators=(", ", ": ")) + "\n"
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("the record holds text that is not valid UTF-8; nothing was written") from None


def append(record: Record) -> None:
    """Add one record as one line (a record whose id is already in the log is not written)."""
    append_new(record)


def append_new(record: Record) -> bool:
    """Add one record as one line; False, and nothing written, when the record has an id that
    is already in the log."""
    return append_all([record]) == 1


def append_all(records: list[Record]) -> int:
    """Add records (a play and its pain) in one write: all of them or none (logfile.append);
    returns how many were written (a record whose id is already in the log is left out).
    Every record is encoded before anything is written."""
    return logfile.append(log_file(), [(r.id, encode(r)) for r in records])


def record_day(record: Record) -> dt.date:
    """The person's local day of a record (the date as written, in its own offset)."""
    return record.day


def read() -> tuple[list[Record], list[str]]:
    """(records in file order, warnings). A line that cannot be used is skipped with a
    warning naming its line and what is wrong; every other line is kept. No file: nothing."""
    f = log_file()
    raw = logfile.read(f)
    if raw is None:
        return [], []
    records, warnings = [], []
    for n, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            warnings.append(f"{f}:{n}: this line is not a readable record and was skipped")
            continue
        try:
            rec = from_json(obj)
        except BadRecord as e:
            warnings.append(f"{f}:{n}: {e}; the line was skipped")
            continue
        if rec is not None:
            records.append(rec)
    return records, warnings


# ---------------------------------------------------------------- days and streaks


@dataclass
class Day:
    date: dt.date
    plays: list[Play] = field(default_factory=list)
    pains: list[Pain] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def minutes(self) -> float:
        return sum(p.minutes for p in self.plays)

    @property
    def practised(self) -> bool:
        return any(p.completed for p in self.plays) or self.minutes >= PRACTICE_MINUTES

    @property
    def pain(self) -> int | None:
        """The day's last pain entry, whatever its `when`."""
        return self.pains[-1].pain if self.pains else None

    def pain_when(self, when: str) -> int | None:
        """The day's last pain entry of this kind (after, morning, other)."""
        of = [p.pain for p in self.pains if p.when == when]
        return of[-1] if of else None

    @property
    def pain_after(self) -> int | None:
        return self.pain_when("after")

    @property
    def pain_morning(self) -> int | None:
        return self.pain_when("morning")

    @property
    def check(self) -> str | None:
        """The day's last check: left, right, same, or None."""
        return self.checks[-1].result if self.checks else None


def by_day(records: list[Record]) -> dict[dt.date, Day]:
    days: dict[dt.date, Day] = {}
    for r in records:
        day = days.setdefault(r.day, Day(r.day))
        if isinstance(r, Play):
            day.plays.append(r)
        elif isinstance(r, Pain):
            day.pains.append(r)
        else:
            day.checks.append(r)
    return days


def check_on(day: dt.date | None = None, records: list[Record] | None = None) -> str | None:
    """The last check recorded on `day` (default today): left, right, same, or None. Reads the
    log when no records are given."""
    day = day or dt.date.today()
    if records is None:
        records = read()[0]
    found = [r.result for r in records if isinstance(r, Check) and r.day == day]
    return found[-1] if found else None


def streak(records: list[Record], today: dt.date | None = None) -> int:
    """Days practised in a row, ending today, or yesterday when today's practice is still to do."""
    today = today or dt.date.today()
    done = {d for d, day in by_day(records).items() if day.practised}
    d = today if today in done else today - dt.timedelta(days=1)
    n = 0
    while d in done:
        n += 1
        d -= dt.timedelta(days=1)
    return n


_PAIN_LABEL = {"after": "pain after {n}/10", "morning": "morning pain {n}/10", "other": "pain {n}/10"}


_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def shown(text: str) -> str:
    """Text from the log as one safe line on a terminal: a newline, a control character or a
    bidi override in a note (hand-edited, or from an older version) is shown escaped."""
    def one(c: str) -> str:
        if not (_unsafe(c) or c in "\t\n" or c in _BIDI):
            return c
        return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
    return "".join(one(c) for c in text)


def _day_line(day: Day) -> str:
    label = day.date.strftime("%a %d %b")
    if day.plays:
        parts = []
        for p in day.plays:
            state = "done" if p.completed else f"stopped in {shown(p.stopped_in or 'the start')}"
            side = f", {p.side} side{'s' if p.side == 'both' else ''}" if p.side else ""
            parts.append(f"{shown(p.session)}{side} {p.minutes:.0f} min ({state})")
        what = "; ".join(parts)
    else:
        what = "no practice"
    check = f"  check: {day.check}" if day.check else ""
    pain = ""
    for when in ("morning", "after", "other"):  # after-session and morning pain apart
        of = [p for p in day.pains if p.when == when]
        if of:
            pain += "  " + _PAIN_LABEL[when].format(n=of[-1].pain) + (f" \"{shown(of[-1].note)}\"" if of[-1].note else "")
    mark = "*" if day.practised else " "
    return f"{mark} {label}  {what}{check}{pain}"


def _trend(name: str, pains: list[tuple[dt.date, int]]) -> str | None:
    if len(pains) < 2:
        return None
    (d0, first), (d1, last) = pains[0], pains[-1]
    trend = "lower" if last < first else "higher" if last > first else "the same"
    return f"{name}: {first}/10 on {d0:%d %b}, {last}/10 on {d1:%d %b} ({trend})."


def summary(records: list[Record], days: int = 14, today: dt.date | None = None,
            show_streak: bool = True) -> list[str]:
    """The last `days` days, newest first, then the current streak (unless it is hidden)."""
    today = today or dt.date.today()
    table = by_day(records)
    lines = []
    for k in range(days):
        d = today - dt.timedelta(days=k)
        lines.append(_day_line(table.get(d, Day(d))))
    n = streak(records, today) if show_streak else None
    if n is None:
        pass  # hidden: a streak motivates some people and stresses others
    elif n == 0:
        lines.append("Streak: none yet. A session today starts one.")
    else:
        todo = "" if today in table and table[today].practised else " (today's practice still to do)"
        lines.append(f"Streak: {n} day{'s' if n != 1 else ''} in a row{todo}.")
    recent = [d for d in sorted(table) if dt.timedelta(0) <= today - d < dt.timedelta(days=days)]
    for name, when in (("Pain after sessions", "after"), ("Morning pain", "morning"), ("Pain", "other")):
        line = _trend(name, [(d, table[d].pain_when(when)) for d in recent if table[d].pain_when(when) is not None])
        if line:
            lines.append(line)
    return lines
