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
import os
from dataclasses import dataclass, field
from pathlib import Path

from sisessions import paths
from sisessions.errors import UsageError

FILE_NAME = "practice.jsonl"
KINDS = ("play", "pain")
# A day counts as practised when a session was played to its end, or for at least this long
# (a session stopped early because it hurt still counts when it was a real practice).
PRACTICE_MINUTES = 5.0


def log_file() -> Path:
    return paths.data_dir() / FILE_NAME


def now() -> str:
    """The local time with its UTC offset, to the second: the person's own day and hour."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def play_record(session: str, side: str | None, pace: float, engine: str, completed: bool,
                stopped_in: str | None, minutes: float, time: str | None = None) -> dict:
    return {"kind": "play", "time": time or now(), "session": session, "side": side,
            "pace": float(pace), "engine": engine, "completed": bool(completed),
            "stopped_in": None if completed else stopped_in, "minutes": round(float(minutes), 2)}


def done_elsewhere(library, name: str) -> dict:
    """A completed play of a session done away from this computer (on the phone, from an
    export): recorded so that the streak and `today`'s programme move on as for a play here."""
    from sisessions.plan.timeline import PlanOptions, estimated
    from sisessions.practice import settings

    if name == "today":
        from sisessions.practice.today import resolve_name

        name = resolve_name(library)
    session = library.session(name)
    side = settings.saved_side()
    minutes = estimated(session, library, PlanOptions(side=side or "left")).seconds / 60
    return play_record(session.id, side, 1.0, "elsewhere", True, None, minutes)


def pain_record(pain: int, note: str | None = None, time: str | None = None) -> dict:
    if not isinstance(pain, int) or not 0 <= pain <= 10:
        raise UsageError(f"pain must be a whole number from 0 to 10; got {pain!r}")
    note = note.strip() if note else None
    return {"kind": "pain", "time": time or now(), "pain": pain, "note": note or None}


def append(record: dict) -> None:
    """Add one record as one line, atomically (one O_APPEND write), and fsync it."""
    line = json.dumps(record, ensure_ascii=False, separators=(", ", ": ")) + "\n"
    f = log_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            os.lseek(fd, size - 1, os.SEEK_SET)  # O_APPEND still writes at the end
            if os.read(fd, 1) != b"\n":
                line = "\n" + line  # a torn last line stays alone on its line, ours stays readable
        data = line.encode("utf-8")
        if os.write(fd, data) != len(data):  # pragma: no cover - a full disk mid-write
            raise OSError(28, "the practice log could not be written completely", str(f))
        os.fsync(fd)
    finally:
        os.close(fd)


def record_day(record: dict) -> dt.date:
    """The person's local day of a record (the date as written, in its own offset)."""
    return dt.datetime.fromisoformat(record["time"]).date()


def _problem(record) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    if not isinstance(record.get("kind"), str):
        return "no 'kind'"
    try:
        record_day(record)
    except (KeyError, TypeError, ValueError):
        return "no valid 'time'"
    if record["kind"] == "pain" and not (isinstance(record.get("pain"), int) and 0 <= record["pain"] <= 10):
        return "'pain' is not a whole number from 0 to 10"
    if record["kind"] == "play" and not isinstance(record.get("session"), str):
        return "no 'session'"
    return None


def read() -> tuple[list[dict], list[str]]:
    """(records in file order, warnings). A line that cannot be read is skipped with a
    warning naming its line; every other line is kept. No file yet: no records."""
    f = log_file()
    try:
        raw = f.read_bytes()
    except FileNotFoundError:
        return [], []
    records, warnings = [], []
    for n, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            warnings.append(f"{f}:{n}: this line is not a readable record and was skipped")
            continue
        why = _problem(rec)
        if why:
            warnings.append(f"{f}:{n}: {why}; the line was skipped")
            continue
        records.append(rec)
    return records, warnings


# ---------------------------------------------------------------- days and streaks


@dataclass
class Day:
    date: dt.date
    plays: list[dict] = field(default_factory=list)
    pains: list[dict] = field(default_factory=list)

    @property
    def minutes(self) -> float:
        return sum(float(p.get("minutes") or 0) for p in self.plays)

    @property
    def practised(self) -> bool:
        return any(p.get("completed") for p in self.plays) or self.minutes >= PRACTICE_MINUTES

    @property
    def pain(self) -> int | None:
        """The day's last pain entry."""
        return self.pains[-1]["pain"] if self.pains else None


def by_day(records: list[dict]) -> dict[dt.date, Day]:
    days: dict[dt.date, Day] = {}
    for r in records:
        d = record_day(r)
        day = days.setdefault(d, Day(d))
        if r["kind"] == "play":
            day.plays.append(r)
        elif r["kind"] == "pain":
            day.pains.append(r)
    return days


def streak(records: list[dict], today: dt.date | None = None) -> int:
    """Days practised in a row, ending today, or yesterday when today's practice is still to do."""
    today = today or dt.date.today()
    done = {d for d, day in by_day(records).items() if day.practised}
    d = today if today in done else today - dt.timedelta(days=1)
    n = 0
    while d in done:
        n += 1
        d -= dt.timedelta(days=1)
    return n


def _day_line(day: Day) -> str:
    label = day.date.strftime("%a %d %b")
    if day.plays:
        parts = []
        for p in day.plays:
            state = "done" if p.get("completed") else f"stopped in {p.get('stopped_in') or 'the start'}"
            side = f", {p['side']} side" if p.get("side") else ""
            parts.append(f"{p['session']}{side} {float(p.get('minutes') or 0):.0f} min ({state})")
        what = "; ".join(parts)
    else:
        what = "no practice"
    pain = ""
    if day.pains:
        last = day.pains[-1]
        pain = f"  pain {last['pain']}/10" + (f" \"{last['note']}\"" if last.get("note") else "")
    mark = "*" if day.practised else " "
    return f"{mark} {label}  {what}{pain}"


def summary(records: list[dict], days: int = 14, today: dt.date | None = None) -> list[str]:
    """The last `days` days, newest first, then the current streak."""
    today = today or dt.date.today()
    table = by_day(records)
    lines = []
    for k in range(days):
        d = today - dt.timedelta(days=k)
        lines.append(_day_line(table.get(d, Day(d))))
    n = streak(records, today)
    if n == 0:
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
