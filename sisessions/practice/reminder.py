"""A reminder for the phone's own calendar (SPEC §9): one recurring iCalendar event (RFC 5545)
with an alarm at its time, made with the icalendar library."""
from __future__ import annotations

import datetime as dt
import hashlib

PRODID = "-//sisessions//practice reminder//EN"
_BYDAY = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")  # index = cron's day number, 0 = Sunday


def first_day(days: frozenset[int], hour: int, minute: int, now: dt.datetime) -> dt.date:
    """The first date at or after `now` on one of `days` whose time has not passed yet."""
    for k in range(8):
        d = now.date() + dt.timedelta(days=k)
        if (d.isoweekday() % 7) in days and (k or (hour, minute) > (now.hour, now.minute)):
            return d
    raise ValueError("no day given")


def ics(hour: int, minute: int, days: frozenset[int], session: str, title: str,
        url: str | None = None, now: dt.datetime | None = None) -> bytes:
    """The calendar file: an event at HH:MM on `days`, repeating, with a display alarm at its start.

    The time is floating (no time zone): 07:30 stays 07:30 wherever the phone is. `url` is the
    companion's address without its token (a calendar may be synced to a server).
    """
    from icalendar import Alarm, Calendar, Event, vRecur

    if not days:
        raise ValueError("no day given")
    now = now or dt.datetime.now()
    start = dt.datetime.combine(first_day(days, hour, minute, now), dt.time(hour, minute))
    what = f"sisessions: {title}"
    uid = hashlib.sha1(f"{hour:02d}:{minute:02d}|{sorted(days)}|{session}".encode()).hexdigest()[:16]
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    ev = Event()
    ev.add("uid", f"{uid}@sisessions")  # the same reminder imported again replaces itself
    ev.add("dtstamp", dt.datetime.now(dt.timezone.utc))
    ev.add("dtstart", start)
    ev.add("duration", dt.timedelta(minutes=30))
    ev.add("summary", what)
    rule = {"freq": "daily"} if len(days) == 7 else {"freq": "weekly", "byday": [_BYDAY[d] for d in sorted(days)]}
    ev.add("rrule", vRecur(rule))
    text = f"Time for {title}."
    if url:
        text += f" Open the companion: {url}"
        ev.add("url", url)
    ev.add("description", text)
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", what)
    alarm.add("trigger", dt.timedelta(0))
    ev.add_component(alarm)
    cal.add_component(ev)
    return cal.to_ical()


def is_ours(data: bytes) -> bool:
    """Whether a file is a reminder this program wrote (so writing over it loses nothing of the user's)."""
    return data.startswith(b"BEGIN:VCALENDAR") and PRODID.encode() in data[:400]
