"""Daily runs: tagged crontab entries (or systemd user timers) that run sisessions every morning."""
from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from crontab import CronItem, CronTab, Process

from sisessions import paths
from sisessions.errors import SisessionsError, UsageError
from sisessions.fileio import atomic_write_text

TAG = "sisessions:"  # the python-crontab comment that marks our entries: "# sisessions:ID"
_TAG_RE = re.compile(r"\s#\s*sisessions:([0-9a-f]{6,12})\s*$")
USER_ENV = "SISESSIONS_CRONTAB_USER"  # whose crontab (tests point it at a throwaway user)
MAX_COMMAND = 990  # Vixie cron (Debian's) silently cuts a command at 999 characters
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron numbering: 0 = Sunday
_FULL_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_SYSTEMD_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
_DAY_WORDS = {"daily": range(7), "everyday": range(7), "weekdays": range(1, 6), "weekends": (0, 6)}


# ---------------------------------------------------------------- what the user asked for


def parse_time(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text or "")
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise UsageError(f"--at {text}: expected a time of day like 07:30 (24-hour clock, HH:MM)")
    return int(m.group(1)), int(m.group(2))


def parse_days(text: str) -> frozenset[int]:
    """`mon-fri`, `sat,sun`, `fri-mon`, `weekdays`, `weekends`, `daily`, or cron's 0-7 numbers."""
    bad = UsageError(f"--days {text}: expected day names like mon-fri, sat,sun or daily")
    words = (text or "").strip().lower()
    if words in ("", "*"):
        return frozenset(range(7))
    if words in _DAY_WORDS:
        return frozenset(_DAY_WORDS[words])
    days: set[int] = set()
    for part in words.split(","):
        ends = part.strip().split("-")
        if len(ends) > 2:
            raise bad
        try:
            a, b = (_day(e) for e in (ends[0], ends[-1]))
        except ValueError:
            raise bad from None
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])  # fri-mon wraps
    return frozenset(days)


def _day(word: str) -> int:
    word = word.strip()
    if word.isdigit() and int(word) <= 7:
        return int(word) % 7  # cron allows 7 for Sunday
    for i, name in enumerate(_FULL_NAMES):
        if len(word) >= 3 and name.startswith(word):  # mon, tues, thursday
            return i
    raise ValueError(word)


def _runs(days: frozenset[int]) -> list[tuple[int, int]]:
    """Consecutive runs of days in Monday-first order, so that mon-fri stays one range."""
    order = [1, 2, 3, 4, 5, 6, 0]
    runs: list[list[int]] = []
    for d in order:
        if d in days:
            if runs and order.index(runs[-1][-1]) == order.index(d) - 1:
                runs[-1].append(d)
            else:
                runs.append([d])
    return [(r[0], r[-1]) for r in runs]


def days_text(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "daily"
    return ",".join(DAY_NAMES[a] if a == b else f"{DAY_NAMES[a]}-{DAY_NAMES[b]}" for a, b in _runs(days))


def _cron_days(days: frozenset[int]) -> str:
    if len(days) == 7:
        return "*"
    return ",".join(str(a) if a == b else f"{a}-{b if b else 7}" for a, b in _runs(days))


def _calendar_days(days: frozenset[int]) -> str:
    if len(days) == 7:
        return ""
    parts = (_SYSTEMD_DAYS[a] if a == b else f"{_SYSTEMD_DAYS[a]}..{_SYSTEMD_DAYS[b]}" for a, b in _runs(days))
    return ",".join(parts) + " "


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
        what = _what_args(self.args)
        where = what[what.index("--to") + 1] if "--to" in what else ""
        key = "|".join([self.at, _cron_days(self.days), self.action, what[1], where,
                        "systemd" if self.systemd else "cron"])
        return hashlib.sha1(key.encode()).hexdigest()[:6]

    @property
    def what(self) -> str:
        return describe(self.args)

    @property
    def when(self) -> str:
        return f"at {self.at} " + ("every day" if len(self.days) == 7 else f"on {days_text(self.days)}")


def make_spec(at: str, days: str, session: str, to: str | None, options: list[str],
              scripts: tuple[str, ...] = (), cache_dir: str | None = None, systemd: bool = False,
              keep: int | None = None) -> Spec:
    """Check the user's schedule and build the exact command line the entry will run."""
    hour, minute = parse_time(at)
    dayset = parse_days(days)
    if keep is not None and not to:
        raise UsageError("--keep needs --to DIR: it only tidies the folder that the export writes into")
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


def _what_args(args: tuple[str, ...] | list[str]) -> list[str]:
    """The command and its options without the global options that come before it."""
    i = 0
    while i < len(args) and args[i].startswith("--"):
        i += 2
    return list(args[i:])


def describe(args) -> str:
    home = str(Path.home())
    words = [("~" + a[len(home):]) if home != "/" and a.startswith(home + "/") else a for a in _what_args(args)]
    return shlex.join(words)


def session_options(choices, default_rate: int) -> list[str]:
    """The session options (SPEC §3) as arguments, only those that differ from the defaults."""
    out: list[str] = []
    if choices.side:
        out += ["--side", choices.side]
    if choices.pace != 1.0:
        out += ["--pace", f"{choices.pace:g}"]
    if choices.rate != default_rate:
        out += ["--rate", str(choices.rate)]
    for opt, value in (("--engine", choices.engine), ("--voice", choices.voice)):
        if value:
            out += [opt, value]
    for s in choices.skip:
        out += ["--skip", s]
    if choices.minutes is not None:
        out += ["--minutes", f"{choices.minutes:g}"]
    return out


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


def crontab_user() -> str | None:
    """The user whose crontab is used: SISESSIONS_CRONTAB_USER, else whoever runs sisessions."""
    return os.environ.get(USER_ENV) or None


def _uid(user: str | None) -> int:
    if user is None:
        return os.getuid()
    import pwd

    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        raise UsageError(f"{USER_ENV}={user}: no such user") from None


def log_path(sid: str) -> Path:
    return paths.state_dir() / "schedules" / f"{sid}.log"


def lock_path(action: str, sid: str) -> Path:
    # Every play shares one lock: two sessions must never talk over each other.
    return paths.state_dir() / "schedules" / ("play.lock" if action == "play" else f"{sid}.lock")


def environment(spec: Spec, user: str | None) -> list[tuple[str, str]]:
    """What cron lacks: a PATH with the venv, the same folders as here, and for playing the
    user's audio session (PipeWire and PulseAudio refuse clients without these two)."""
    env = [("PATH", os.pathsep.join(dict.fromkeys([str(Path(sys.executable).parent),
                                                   "/usr/local/bin", "/usr/bin", "/bin"])))]
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "SISESSIONS_SCRIPTS"):
        if os.environ.get(var):
            env.append((var, os.environ[var]))
    if spec.action == "play" and not spec.systemd:  # a systemd user service has them already
        run = f"/run/user/{_uid(user)}"
        env += [("XDG_RUNTIME_DIR", run), ("DBUS_SESSION_BUS_ADDRESS", f"unix:path={run}/bus")]
    return env


def run_args(spec: Spec) -> list[str]:
    return [*sisessions_command(), "schedule", "run", spec.id, "--", *spec.args]


def cron_command(spec: Spec, user: str | None) -> str:
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in environment(spec, user))
    return f"{env} {shlex.join(run_args(spec))} >> {shlex.quote(str(log_path(spec.id)))} 2>&1"


# ---------------------------------------------------------------- the crontab


def _lines(text: str) -> list[str]:
    """Lines with their own endings, split on \\n only (str.splitlines also splits on \\f and
    friends, which would change a line that holds one)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


class Table(CronTab):
    """A user's crontab, read and written through the `crontab` command by python-crontab.

    python-crontab re-formats every line it renders (spacing, variables, `%`), so render()
    is replaced: the text `crontab -l` gave is kept byte for byte, and only our own tagged
    lines are dropped, replaced or appended.
    """

    def read(self, filename=None):
        try:
            proc = Process(self.cron_command, l="", **self.user_opt).run()
        except FileNotFoundError:
            raise SisessionsError("the crontab command is not installed: install cron "
                                  "(Debian: `sudo apt install cron`) or use --systemd") from None
        except UnicodeDecodeError:
            raise SisessionsError("your crontab is not UTF-8 text, so sisessions leaves it alone; "
                                  "use --systemd instead") from None
        if proc.returncode != 0 and "no crontab for" not in proc.stderr:
            raise SisessionsError(f"`crontab -l` failed: {proc.stderr.strip() or proc.returncode}")
        self.raw = proc.stdout if proc.returncode == 0 else ""
        self.changes: dict[str, str | None] = {}  # our id -> its new line, or None to drop it
        self.added: list[str] = []
        self.intab = self.raw  # python-crontab parses it...
        super().read()
        self.intab = None  # ...and writes back to the user's crontab, not to a string

    def ours(self) -> dict[str, str]:
        """Our entries as id -> the line as it stands."""
        found = {}
        for line in _lines(self.raw):
            m = _TAG_RE.search(line)
            if m and not line.lstrip().startswith("#"):
                found[m.group(1)] = line.rstrip("\n")
        return found

    def render(self, errors=False):
        out = []
        for line in _lines(self.raw):
            m = _TAG_RE.search(line)
            if m and m.group(1) in self.changes and not line.lstrip().startswith("#"):
                if self.changes[m.group(1)] is not None:
                    out.append(self.changes[m.group(1)] + "\n")
                continue
            out.append(line)
        text = "".join(out)
        if self.added and text and not text.endswith("\n"):
            text += "\n"  # cron itself refuses a table whose last line has no newline
        return text + "".join(line + "\n" for line in self.added)

    def save(self) -> None:
        text = self.render()
        try:
            if text == "" and self.raw != "":
                proc = Process(self.cron_command, r="", **self.user_opt).run()
                if proc.returncode != 0:
                    raise IOError(proc.stderr.strip())
            elif text != self.raw:
                self.write()
        except OSError as e:
            raise SisessionsError(f"the crontab could not be written: {str(e).strip()}") from e


def open_table() -> Table:
    user = crontab_user()
    _uid(user)
    return Table(user=user or True)


def cron_line(spec: Spec, user: str | None) -> str:
    """The crontab line, rendered (and checked) by python-crontab."""
    command = cron_command(spec, user)
    if len(command) > MAX_COMMAND:
        raise SisessionsError(f"the crontab entry would be {len(command)} characters, longer than cron "
                              f"reads ({MAX_COMMAND}); use shorter folder names or --systemd")
    item = CronItem(command=command, comment=TAG + spec.id)
    item.setall(str(spec.minute), str(spec.hour), "*", "*", _cron_days(spec.days))
    line = item.render()
    back = CronItem.from_line(line, cron=CronTab(tab=""))
    if back.command != command or back.comment != TAG + spec.id or _TAG_RE.search(line) is None:
        raise UsageError("this schedule cannot be written as one crontab line "
                         "(a folder name with ' #' or a line break?)")
    return line


@dataclass(frozen=True)
class Added:
    spec: Spec
    status: str  # "added", "updated", "unchanged" or "dry-run"
    text: str  # the crontab line, or the unit files
    notes: tuple[str, ...]


def add(spec: Spec, dry_run: bool = False) -> Added:
    if spec.systemd:
        return _add_systemd(spec, dry_run)
    user = crontab_user()
    line = cron_line(spec, user)
    notes = _cron_notes(spec, user)
    if dry_run:
        return Added(spec, "dry-run", line, notes)
    table = open_table()
    existing = table.ours().get(spec.id)
    if existing is not None and existing.strip() == line:
        return Added(spec, "unchanged", line, notes)
    log_path(spec.id).parent.mkdir(parents=True, exist_ok=True)  # the shell opens the log, not us
    if existing is not None:
        table.changes[spec.id] = line
    else:
        table.added.append(line)
    table.save()
    return Added(spec, "updated" if existing is not None else "added", line, notes)


def _cron_notes(spec: Spec, user: str | None) -> tuple[str, ...]:
    notes = []
    if spec.action == "play":
        name = user or _user_name()
        if not Path(f"/var/lib/systemd/linger/{name}").exists():
            notes.append("Playing from cron needs your sound server, which runs while you are logged "
                         f"in: stay logged in (a locked screen is fine), or run `loginctl enable-linger {name}` "
                         "so that it keeps running after you log out.")
    if spec.action == "export" and "--to" in spec.args:
        notes.append("Each morning's file is named YYYY-MM-DD-SESSION.mp3.")
    if not _cron_running():
        notes.append("The cron service does not seem to be running here; start it with "
                     "`sudo systemctl enable --now cron`.")
    return tuple(notes)


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _cron_running() -> bool:
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in ("cron", "crond", "cronie", "busybox-crond"):
                return True
        except OSError:
            continue
    return not Path("/proc/1").exists()  # no /proc (not Linux): do not guess


# ---------------------------------------------------------------- systemd user timers


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
    env = " ".join(_unit_quote(f"{k}={v}") for k, v in environment(spec, None))
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
             f"[Timer]\nOnCalendar={_calendar_days(spec.days)}*-*-* {spec.at}:00\n{persistent}\n"
             "[Install]\nWantedBy=timers.target\n")
    return {f"{name}.service": service, f"{name}.timer": timer}


def _add_systemd(spec: Spec, dry_run: bool) -> Added:
    files = unit_files(spec)
    folder = systemd_dir()
    text = "\n".join(f"# {folder / n}\n{body}" for n, body in files.items())
    timer = f"sisessions-{spec.id}.timer"
    notes = [f"Turn it on: `systemctl --user daemon-reload && systemctl --user enable --now {timer}`."]
    if spec.action == "play":
        notes.append("A morning missed while the computer was off is skipped, never played later by surprise.")
    if dry_run:
        return Added(spec, "dry-run", text, tuple(notes))
    same = all((folder / n).is_file() and (folder / n).read_text(encoding="utf-8") == body
               for n, body in files.items())
    if same:
        return Added(spec, "unchanged", text, tuple(notes))
    existed = (folder / timer).exists()
    log_path(spec.id).parent.mkdir(parents=True, exist_ok=True)
    for n, body in files.items():
        atomic_write_text(folder / n, body)
    return Added(spec, "updated" if existed else "added", text, tuple(notes))


# ---------------------------------------------------------------- list and remove


@dataclass(frozen=True)
class Entry:
    id: str
    at: str
    days: str
    what: str
    via: str  # "cron" or "systemd"
    last: str


def entries() -> list[Entry]:
    out = []
    if _have_crontab():
        table = open_table()
        for sid, line in table.ours().items():
            item = CronItem.from_line(line, cron=CronTab(tab=""))
            minute, hour, dow = str(item.minute), str(item.hour), str(item.dow)
            at = f"{int(hour):02d}:{int(minute):02d}" if hour.isdigit() and minute.isdigit() else f"{hour}:{minute}"
            try:
                days = days_text(parse_days(dow))
            except UsageError:
                days = dow
            out.append(Entry(sid, at, days, describe(_args_of(item.command)), "cron", last_run(sid)))
    for timer in sorted(systemd_dir().glob("sisessions-*.timer")):
        m = re.match(r"# sisessions schedule (\w+): (.*) at (\S+) on (\S+)$",
                     timer.read_text(encoding="utf-8").split("\n", 1)[0])
        if m:
            out.append(Entry(m.group(1), m.group(3), m.group(4), m.group(2), "systemd", last_run(m.group(1))))
    return out


def _have_crontab() -> bool:
    import shutil

    return shutil.which("crontab") is not None


def _args_of(command: str) -> list[str]:
    """The sisessions arguments of one of our entries' commands (after `schedule run ID --`)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return [command]
    if "--" not in words:
        return words
    rest = words[words.index("--") + 1:]
    return rest[:rest.index(">>")] if ">>" in rest else rest


def remove(ids: tuple[str, ...], every: bool = False) -> list[str]:
    """Remove schedules by id (or all of ours); returns one line for each removed."""
    done: list[tuple[str, str]] = []
    wanted = set(ids)
    if _have_crontab():
        table = open_table()
        for sid in table.ours():
            if every or sid in wanted:
                table.changes[sid] = None
                done.append((sid, "from the crontab"))
        table.save()
    folder = systemd_dir()
    for timer in sorted(folder.glob("sisessions-*.timer")):
        sid = timer.stem.split("-", 1)[1]
        if every or sid in wanted:
            for f in (folder / "timers.target.wants" / timer.name, timer, timer.with_suffix(".service")):
                if f.is_symlink() or f.exists():
                    f.unlink()
            done.append((sid, "(a systemd timer; to stop it now: `systemctl --user daemon-reload && "
                              f"systemctl --user stop {timer.name}`)"))
    missing = wanted - {sid for sid, _ in done}
    if missing:
        raise UsageError(f"no schedule with the id {', '.join(sorted(missing))}; "
                         "`sisessions schedule list` shows the ids")
    for sid, _ in done:
        log_path(sid).unlink(missing_ok=True)
    return [f"Removed {sid} {where}." for sid, where in done]


# ---------------------------------------------------------------- the run itself, from cron


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _say(status: str, text: str) -> None:
    # Our own lines start with "--- TIME STATUS:" so `schedule list` can find the last result.
    print(f"--- {_now()} {status}: {text}", flush=True)


LOG_LIMIT = 512 * 1024  # a few KB a morning: over a year of runs before the oldest go


def trim_log(path: Path, limit: int = LOG_LIMIT) -> None:
    """Keep a schedule's log from growing without end: past `limit`, keep its newer half.

    Trimmed in place (the shell that started us holds the log open for appending, so a new
    file put in its place would lose what we print next), from a line boundary."""
    try:
        if path.stat().st_size <= limit:
            return
        with open(path, "r+b") as f:
            f.seek(-(limit // 2), os.SEEK_END)
            keep = f.read()
            keep = keep[keep.find(b"\n") + 1:]
            f.seek(0)
            f.write(keep)
            f.truncate()
    except OSError:
        pass  # a log that cannot be trimmed must never stop the morning's session


def run(sid: str, args: list[str]) -> int:
    """Run `sisessions ARGS` under the lock; every line goes to stdout, which cron sends to the log."""
    from sisessions.schedule import lock

    action = (_what_args(args) or ["?"])[0]
    trim_log(log_path(sid))
    _say("start", "sisessions " + shlex.join(args))
    t0 = time.monotonic()
    try:
        with lock.hold(lock_path(action, sid)) as fd:
            # The child keeps the lock's file open: it stays held while the session plays,
            # even if this process is killed.
            rc = subprocess.run([sys.executable, "-m", "sisessions", *args], pass_fds=(fd,)).returncode
    except lock.Busy as busy:
        doing = "playing" if action == "play" else "running"
        _say("skipped", f"the previous run ({busy}) is still {doing}, so this one did nothing")
        return 0
    took = int(time.monotonic() - t0)
    _say("ok" if rc == 0 else "failed", f"exit {rc} after {took // 60}:{took % 60:02d}")
    return rc


def last_run(sid: str) -> str:
    """The last result in the schedule's log, in a few words."""
    try:
        with open(log_path(sid), "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return "not run yet"
    for i in range(len(lines) - 1, -1, -1):
        m = re.match(r"--- (\S+) (start|ok|failed|skipped): (.*)$", lines[i])
        if not m:
            continue
        when, status, text = m.groups()
        try:
            when = datetime.fromisoformat(when).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            pass
        if status == "start":
            return f"{when} started, no result yet (running, or stopped hard)"
        if status == "failed":  # with the run's last words, usually the reason
            said = [ln for ln in lines[:i] if ln.strip()]
            said = said[-1:] if said and not said[-1].startswith("--- ") else []
            return f"{when} failed ({text})" + (f": {said[0].strip()}" if said else "")
        return f"{when} {status}" + (f" ({text})" if status == "ok" else f": {text}")
    return "not run yet" if not lines else f"no result in {log_path(sid)}"
