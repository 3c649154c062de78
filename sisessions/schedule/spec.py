"""What one schedule is: when, the sisessions command line it runs, and what a run needs from its place."""
from __future__ import annotations

import hashlib
import os
import shlex
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sisessions import paths
from sisessions.errors import SisessionsError, UsageError
from sisessions.output import retention
from sisessions.schedule.calendar import cron_days, days_text, parse_days, parse_time


class Status(StrEnum):
    """What `schedule add` did."""

    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DRY_RUN = "dry-run"


class Via(StrEnum):
    """Which backend runs a schedule."""

    CRON = "cron"
    SYSTEMD = "systemd"


@dataclass(frozen=True)
class Spec:
    """One schedule: when, and the sisessions command line it runs."""

    hour: int
    minute: int
    days: frozenset[int]
    args: tuple[str, ...]  # the sisessions arguments: [global options] play|export SESSION [options]
    action: str  # "play" or "export"
    systemd: bool = False

    @property
    def at(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"

    @property
    def id(self) -> str:
        """The same schedule always gets the same id, so adding it twice cannot duplicate it.

        Only when, what and where count: the same session at the same time with another pace
        is the same schedule, updated, not a second one that would play over the first.
        """
        what = what_args(self.args)
        where = what[what.index("--to") + 1] if "--to" in what else ""
        key = "|".join([self.at, cron_days(self.days), self.action, what[1], where,
                        Via.SYSTEMD if self.systemd else Via.CRON])
        return hashlib.sha1(key.encode()).hexdigest()[:6]

    @property
    def what(self) -> str:
        return describe(self.args)

    @property
    def when(self) -> str:
        return f"at {self.at} " + ("every day" if len(self.days) == 7 else f"on {days_text(self.days)}")


@dataclass(frozen=True)
class Added:
    spec: Spec
    status: Status
    text: str  # the crontab line, or the unit files
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """One schedule as found in the crontab or the systemd folder."""

    id: str
    at: str
    days: str
    what: str
    via: Via
    log: Path | None  # the log its command appends to, as the entry itself names it
    last: str = ""


def make_spec(at: str, days: str, session: str, to: str | None, options: list[str],
              scripts: tuple[str, ...] = (), cache_dir: str | None = None, systemd: bool = False,
              keep: int | None = None) -> Spec:
    """Check the user's schedule and build the exact command line the entry will run."""
    hour, minute = parse_time(at)
    dayset = parse_days(days)
    retention.check(keep, to)
    name = session
    if session.endswith((".yaml", ".yml")) or Path(session).is_file():
        name = str(Path(session).expanduser().resolve())  # cron starts in $HOME, not here
    glob: list[str] = []
    for d in scripts:
        glob += ["--scripts", str(Path(d).expanduser().resolve())]
    # The cache that `schedule add` fills must be the one the morning run reads.
    glob += ["--cache-dir", str(paths.cache_dir(cache_dir).resolve())]
    if to:
        target = Path(to).expanduser().resolve()
        if target.exists() and not target.is_dir():
            raise UsageError(f"--to {to}: that is a file, not a folder")
        what = ["export", name, "--to", str(target)] + (["--keep", str(keep)] if keep else [])
    else:
        what = ["play", name]
    return Spec(hour, minute, dayset, tuple(glob + what + list(options)), what[0], systemd)


def what_args(args: tuple[str, ...] | list[str]) -> list[str]:
    """The command and its options without the global options that come before it."""
    i = 0
    while i < len(args) and args[i].startswith("--"):
        i += 2
    return list(args[i:])


def describe(args) -> str:
    home = str(Path.home())
    words = [("~" + a[len(home):]) if home != "/" and a.startswith(home + "/") else a for a in what_args(args)]
    return shlex.join(words)


def sessions_to_ready(library, session: str) -> list[str]:
    """What `schedule add` synthesizes now: the session, or every session `today` can reach."""
    from sisessions.practice import today

    if session == today.NAME and today.NAME not in library.sessions and today.NAME not in library.patterns:
        return today.reachable(library)
    return [session]


# ---------------------------------------------------------------- where it runs


def check_platform(systemd: bool, platform: str | None = None) -> None:
    """One sentence, and what to do instead, where cron (or systemd) is not the way."""
    platform = platform or sys.platform
    exe = sisessions_command()[0]
    if platform.startswith("win"):
        raise SisessionsError(
            "cron does not exist on Windows: use Task Scheduler instead, for example "
            f'`schtasks /Create /SC DAILY /ST 07:30 /TN sisessions /TR "{exe} export today --to %USERPROFILE%\\Music"`')
    if platform == "darwin":
        raise SisessionsError(
            "on macOS launchd, not cron, runs daily jobs: add a LaunchAgent with a StartCalendarInterval "
            f"that runs `{exe} play today` (see `man launchd.plist`), or export to your phone")
    if systemd and not platform.startswith("linux"):
        raise SisessionsError("systemd user timers exist only on Linux")


def sisessions_command() -> list[str]:
    """The installed sisessions by absolute path: cron's PATH does not know the venv."""
    exe = Path(sys.executable)
    script = exe.parent / "sisessions"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script.absolute())]
    return [str(exe.absolute()), "-m", "sisessions"]


def log_path(sid: str) -> Path:
    return paths.state_dir() / "schedules" / f"{sid}.log"


def is_our_log(path: Path | None, sid: str) -> bool:
    """Whether `path` is a log that a schedule with this id wrote (its name and folder say so)."""
    return (path is not None and path.name == f"{sid}.log" and path.parent.name == "schedules"
            and path.is_file() and not path.is_symlink())


def lock_path(action: str, sid: str) -> Path:
    # Every play shares one lock: two sessions must never talk over each other.
    return paths.state_dir() / "schedules" / ("play.lock" if action == "play" else f"{sid}.lock")


def environment(spec: Spec, runtime_uid: int | None) -> list[tuple[str, str]]:
    """What cron lacks: a PATH with the venv, the same folders as here, and for playing from cron
    the user's audio session (PipeWire and PulseAudio refuse clients without these two)."""
    env = [("PATH", os.pathsep.join(dict.fromkeys([str(Path(sys.executable).parent),
                                                   "/usr/local/bin", "/usr/bin", "/bin"])))]
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "SISESSIONS_SCRIPTS"):
        if os.environ.get(var):  # as absolute paths: cron starts in $HOME, not here
            dirs = [str(Path(d).expanduser().resolve()) for d in os.environ[var].split(os.pathsep) if d.strip()]
            env.append((var, os.pathsep.join(dirs)))
    if spec.action == "play" and runtime_uid is not None:
        run = f"/run/user/{runtime_uid}"
        env += [("XDG_RUNTIME_DIR", run), ("DBUS_SESSION_BUS_ADDRESS", f"unix:path={run}/bus")]
    return env


def run_args(spec: Spec) -> list[str]:
    return [*sisessions_command(), "schedule", "run", spec.id, "--", *spec.args]
