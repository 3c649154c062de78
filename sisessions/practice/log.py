"""The practice log: one JSON line per play or pain entry in the user data folder.

The file is `practice.jsonl` (JSON Lines, human-readable). Each record is appended with one
write on a file opened with O_APPEND and then fsynced, so two programs appending at once
never interleave and a crash can at worst leave one torn last line, which `read` reports and
skips without losing the rest.

Records (shared with `sisessions today`):
  {"kind": "play", "time": ISO-8601 local time with offset, "session": id,
   "side": "left"|"right"|null, "pace": float, "engine": name, "completed": bool,
   "stopped_in": pattern id or null, "minutes": float}
  {"kind": "pain", "time": ..., "pain": 0..10, "note": str|null}
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import stat
import unicodedata
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Union

from sisessions import paths
from sisessions.errors import SisessionsError, UsageError
from sisessions.fileio import private_dir, read_regular

FILE_NAME = "practice.jsonl"
# A day counts as practised when a session was played to its end, or for at least this long
# (a session stopped early because it hurt still counts when it was a real practice).
PRACTICE_MINUTES = 5.0
NOTE_MAX = 500
MAX_BYTES = 64 << 20  # centuries of daily records; a larger file is not a log of ours


class Kind(StrEnum):
    PLAY = "play"
    PAIN = "pain"


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
    kind: Kind = Kind.PAIN

    @property
    def day(self) -> dt.date:
        return _day_of(self.time)


Record = Union[Play, Pain]


def play_record(session: str, side: str | None, pace: float, engine: str, completed: bool,
                stopped_in: str | None, minutes: float, time: str | None = None) -> Play:
    return Play(time=time or now(), session=session, side=side, pace=float(pace), engine=engine,
                completed=bool(completed), stopped_in=None if completed else stopped_in,
                minutes=round(float(minutes), 2))


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


def pain_record(pain: int, note: str | None = None, time: str | None = None) -> Pain:
    if isinstance(pain, bool) or not isinstance(pain, int) or not 0 <= pain <= 10:
        raise UsageError(f"pain must be a whole number from 0 to 10; got {pain!r}")
    return Pain(time=time or now(), pain=pain, note=check_note(note))


def to_json(record: Record) -> dict:
    """The record as its JSON object, in the order of the fields documented above."""
    d = asdict(record)
    kind = d.pop("kind")
    return {"kind": str(kind), **d}


# ---------------------------------------------------------------- reading, checking every field


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _optional_text(v) -> bool:
    return v is None or isinstance(v, str)


_PLAY_FIELDS = {  # field: (check, what it must be)
    "session": (lambda v: isinstance(v, str) and bool(v), "a session id"),
    "side": (lambda v: v in (None, "left", "right"), "left, right or null"),
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
}


def from_json(obj) -> Record | None:
    """A record from one parsed line; None for a kind this version does not know (a newer
    version's record is left alone, not reported). Raises BadRecord saying what is wrong."""
    if not isinstance(obj, dict):
        raise BadRecord("not a JSON object")
    kind = obj.get("kind")
    if not isinstance(kind, str):
        raise BadRecord("no 'kind'")
    if kind not in (Kind.PLAY, Kind.PAIN):
        return None
    time = obj.get("time")
    try:
        _day_of(time)
    except (TypeError, ValueError):
        raise BadRecord("no valid 'time'") from None
    fields, values = (_PLAY_FIELDS, dict(_PLAY_DEFAULTS)) if kind == Kind.PLAY else (_PAIN_FIELDS, {"note": None})
    for name, (ok, what) in fields.items():
        if name not in obj:
            if name in values:  # a field an earlier version did not write
                continue
            raise BadRecord(f"no '{name}'")
        if not ok(obj[name]):
            raise BadRecord(f"'{name}' is {json.dumps(obj[name])[:40]}, not {what}")
        values[name] = obj[name]
    return (Play if kind == Kind.PLAY else Pain)(time=time, **values)


def encode(record: Record) -> bytes:
    """The record's line as UTF-8; UsageError (nothing written) for text that is not UTF-8."""
    line = json.dumps(to_json(record), ensure_ascii=False, separators=(", ", ": ")) + "\n"
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("the record holds text that is not valid UTF-8; nothing was written") from None


def append(record: Record) -> None:
    """Add one record as one line, atomically (one O_APPEND write), and fsync it."""
    append_all([record])


def append_all(records: list[Record]) -> None:
    """Add records (a play and its pain) in one O_APPEND write: all of them or none.

    Every record is encoded before anything is written. A short write (a full disk) is cut
    back to where the file ended, so a failed append leaves the log exactly as it was. The
    file is the person's health data: 0600 in a 0700 folder. Anything but a regular file
    there is refused, never written into.
    """
    data = b"".join(encode(r) for r in records)
    f = log_file()
    try:
        private_dir(f.parent)
        fd = os.open(f, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as e:
        raise _failed(f, e) from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SisessionsError(f"the practice log {f} is not a regular file; nothing was recorded")
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
        size = st.st_size
        try:
            if size:
                os.lseek(fd, size - 1, os.SEEK_SET)  # O_APPEND still writes at the end
                if os.read(fd, 1) != b"\n":
                    data = b"\n" + data  # a torn last line stays alone on its line
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(28, "No space left on device")
            os.fsync(fd)
        except OSError as e:
            os.ftruncate(fd, size)  # nothing half-written stays behind
            raise _failed(f, e) from e
    finally:
        os.close(fd)


def _failed(f: Path, e: OSError) -> SisessionsError:
    return SisessionsError(f"the practice log {f} could not be written ({e.strerror or e}); nothing was recorded")


def record_day(record: Record) -> dt.date:
    """The person's local day of a record (the date as written, in its own offset)."""
    return record.day


def read() -> tuple[list[Record], list[str]]:
    """(records in file order, warnings). A line that cannot be used is skipped with a
    warning naming its line and what is wrong; every other line is kept. No file: nothing."""
    f = log_file()
    try:
        raw = read_regular(f, MAX_BYTES)
    except FileNotFoundError:
        return [], []
    except OSError as e:
        raise SisessionsError(f"the practice log {f} cannot be read ({e.strerror or e})") from e
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

    @property
    def minutes(self) -> float:
        return sum(p.minutes for p in self.plays)

    @property
    def practised(self) -> bool:
        return any(p.completed for p in self.plays) or self.minutes >= PRACTICE_MINUTES

    @property
    def pain(self) -> int | None:
        """The day's last pain entry."""
        return self.pains[-1].pain if self.pains else None


def by_day(records: list[Record]) -> dict[dt.date, Day]:
    days: dict[dt.date, Day] = {}
    for r in records:
        day = days.setdefault(r.day, Day(r.day))
        if isinstance(r, Play):
            day.plays.append(r)
        else:
            day.pains.append(r)
    return days


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
            side = f", {p.side} side" if p.side else ""
            parts.append(f"{shown(p.session)}{side} {p.minutes:.0f} min ({state})")
        what = "; ".join(parts)
    else:
        what = "no practice"
    pain = ""
    if day.pains:
        last = day.pains[-1]
        pain = f"  pain {last.pain}/10" + (f" \"{shown(last.note)}\"" if last.note else "")
    mark = "*" if day.practised else " "
    return f"{mark} {label}  {what}{pain}"


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
    pains = [(d, table[d].pain) for d in sorted(table) if table[d].pain is not None
             and today - d < dt.timedelta(days=days)]
    if len(pains) >= 2:
        first, last = pains[0][1], pains[-1][1]
        trend = "lower" if last < first else "higher" if last > first else "the same"
        lines.append(f"Pain: {first}/10 on {pains[0][0]:%d %b}, {last}/10 on {pains[-1][0]:%d %b} ({trend}).")
    return lines
