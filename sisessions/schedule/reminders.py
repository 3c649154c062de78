"""`schedule add --ics FILE`: the reminder for the phone's own calendar, instead of a crontab entry."""
from __future__ import annotations

from pathlib import Path

from sisessions import app
from sisessions.errors import UsageError
from sisessions.fileio import atomic_path
from sisessions.practice import reminder, today
from sisessions.schedule.calendar import days_text, parse_days, parse_time


def write_ics(target: str, at: str, days: str, session: str, scripts: tuple[str, ...] = (),
              dry_run: bool = False) -> list[str]:
    """Write the calendar file (never over a file that is not one of ours); what to tell the user."""
    from sisessions.phone.companion import last_address

    hour, minute = parse_time(at)
    dayset = parse_days(days)
    lib = app.open_library(scripts)
    if session == today.NAME and today.NAME not in lib.sessions:
        title = "today's session"
    elif session in lib.sessions:
        title = lib.session(session).title
    elif session in lib.patterns:
        title = session
    else:
        raise UsageError(f"there is no session '{session}' (`sisessions list` shows them)")
    url = last_address()
    data = reminder.ics(hour, minute, dayset, session, title, url)
    f = Path(target).expanduser()
    if f.is_dir():
        raise UsageError(f"--ics {target}: that is a folder; give a file name such as {Path(target) / 'sisessions.ics'}")
    if f.exists() and not reminder.is_ours(f.read_bytes()[:400]):
        raise UsageError(f"--ics {target}: that file exists and is not a reminder sisessions wrote; it is left as it is")
    when = f"at {hour:02d}:{minute:02d} " + ("every day" if len(dayset) == 7 else f"on {days_text(dayset)}")
    if dry_run:
        return [f"Would write {f}: a reminder for {title} {when} (nothing written).", data.decode()]
    with atomic_path(f) as tmp:
        tmp.write_bytes(data)
    lines = [f"Wrote {f}: a reminder for {title} {when}, with an alarm at that time.",
             "Open it on your phone (or import it into its calendar); nothing was added to the crontab."]
    lines.append(f"It links to the companion at {url}." if url else
                 "Start `sisessions companion` once before this, and the reminder links to its page.")
    return lines
