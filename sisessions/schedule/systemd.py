"""The systemd backend: a user timer and service per schedule, written as unit files."""
from __future__ import annotations

import os
import re
from pathlib import Path

from sisessions.fileio import atomic_write_text
from sisessions.schedule.calendar import calendar_days, days_text
from sisessions.schedule.spec import (
    Added,
    Entry,
    Spec,
    Status,
    Via,
    environment,
    log_path,
    run_args,
)

_HEADER_RE = re.compile(r"# sisessions schedule (\w+): (.*) at (\S+) on (\S+)$")


def systemd_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def _unit_quote(arg: str) -> str:
    """One argument for a unit file: systemd expands % specifiers and $VARS, so double them."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./$-]+", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_files(spec: Spec) -> dict[str, str]:
    name = f"sisessions-{spec.id}"
    log = str(log_path(spec.id)).replace("%", "%%")
    env = " ".join(_unit_quote(f"{k}={v}") for k, v in environment(spec, None))  # a user service has the audio session
    header = f"# sisessions schedule {spec.id}: {spec.what} at {spec.at} on {days_text(spec.days)}\n"  # for list
    service = (f"{header}[Unit]\nDescription=sisessions: {spec.what}\n\n"
               f"[Service]\nType=oneshot\nEnvironment={env}\n"
               f"ExecStart={' '.join(_unit_quote(a) for a in run_args(spec))}\n"
               f"StandardOutput=append:{log}\nStandardError=append:{log}\n")
    # A missed morning export catches up at the next start (Persistent=true); a missed morning
    # *play* does not: a voice starting by itself whenever the computer is next switched on,
    # hours later, would be a surprise, and the person is not on the floor.
    persistent = "Persistent=true\n" if spec.action != "play" else ""
    timer = (f"{header}[Unit]\nDescription=sisessions: {spec.what} {spec.when}\n\n"
             f"[Timer]\nOnCalendar={calendar_days(spec.days)}*-*-* {spec.at}:00\n{persistent}\n"
             "[Install]\nWantedBy=timers.target\n")
    return {f"{name}.service": service, f"{name}.timer": timer}


def add(spec: Spec, dry_run: bool = False) -> Added:
    files = unit_files(spec)
    folder = systemd_dir()
    text = "\n".join(f"# {folder / n}\n{body}" for n, body in files.items())
    timer = f"sisessions-{spec.id}.timer"
    notes = [f"Turn it on: `systemctl --user daemon-reload && systemctl --user enable --now {timer}`."]
    if spec.action == "play":
        notes.append("A morning missed while the computer was off is skipped, never played later by surprise.")
    if dry_run:
        return Added(spec, Status.DRY_RUN, text, tuple(notes))
    same = all((folder / n).is_file() and (folder / n).read_text(encoding="utf-8") == body
               for n, body in files.items())
    if same:
        return Added(spec, Status.UNCHANGED, text, tuple(notes))
    existed = (folder / timer).exists()
    log_path(spec.id).parent.mkdir(parents=True, exist_ok=True)
    for n, body in files.items():
        atomic_write_text(folder / n, body)
    return Added(spec, Status.UPDATED if existed else Status.ADDED, text, tuple(notes))


def entries() -> list[Entry]:
    out = []
    for timer in sorted(systemd_dir().glob("sisessions-*.timer")):
        m = _HEADER_RE.match(timer.read_text(encoding="utf-8").split("\n", 1)[0])
        if m:
            out.append(Entry(m.group(1), m.group(3), m.group(4), m.group(2), Via.SYSTEMD,
                             _log_of(timer.with_suffix(".service"))))
    return out


def _log_of(service: Path) -> Path | None:
    try:
        m = re.search(r"^StandardOutput=append:(.+)$", service.read_text(encoding="utf-8"), re.MULTILINE)
    except OSError:
        return None
    return Path(m.group(1).replace("%%", "%")) if m else None


def remove(sids: set[str]) -> list[str]:
    """Remove these schedules' unit files (and the link `enable` made); one line for each."""
    folder = systemd_dir()
    done = []
    for sid in sorted(sids):
        timer = folder / f"sisessions-{sid}.timer"
        for f in (folder / "timers.target.wants" / timer.name, timer, timer.with_suffix(".service")):
            if f.is_symlink() or f.exists():
                f.unlink()
        done.append(f"Removed {sid} (a systemd timer; to stop it now: `systemctl --user daemon-reload && "
                    f"systemctl --user stop {timer.name}`).")
    return done
