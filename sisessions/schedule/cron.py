"""The crontab backend: the user's crontab read and written whole by the `crontab` command.

Only our own lines (tagged `# sisessions:ID` at the end) are ever added, replaced or dropped;
every other byte (comments, blank lines, variables, odd spacing, lines no parser would accept)
is written back exactly as `crontab -l` gave it, so this module never parses other lines.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from sisessions.errors import SisessionsError, UsageError
from sisessions.schedule.calendar import cron_days, days_text, parse_days
from sisessions.schedule.spec import (
    Added,
    Entry,
    Spec,
    Status,
    Via,
    describe,
    environment,
    log_path,
    run_args,
)

TAG = "sisessions:"  # our entries end with the shell comment "# sisessions:ID"
_TAG_RE = re.compile(r"\s#\s*sisessions:([0-9a-f]{6,12})\s*$")
USER_ENV = "SISESSIONS_CRONTAB_USER"  # whose crontab (tests point it at a throwaway user)
MAX_COMMAND = 990  # Vixie cron (Debian's) silently cuts a command at 999 characters


# ---------------------------------------------------------------- the crontab command


def crontab_user() -> str | None:
    """The user whose crontab is used: SISESSIONS_CRONTAB_USER, else whoever runs sisessions."""
    return os.environ.get(USER_ENV) or None


def user_uid(user: str | None) -> int:
    if user is None:
        return os.getuid()
    import pwd

    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        raise UsageError(f"{USER_ENV}={user}: no such user") from None


def available() -> bool:
    return shutil.which("crontab") is not None


def _crontab(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    user = crontab_user()
    user_uid(user)  # an unknown user is the user's mistake, said before cron says it its way
    try:
        return subprocess.run(["crontab", *(["-u", user] if user else []), *args], input=data,
                              capture_output=True, check=False)
    except FileNotFoundError:
        raise SisessionsError("the crontab command is not installed: install cron "
                              "(Debian: `sudo apt install cron`) or use --systemd") from None


def _said(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.decode("utf-8", "replace").splitlines()
    return "; ".join(ln.strip().rstrip(".") for ln in lines if ln.strip()) or f"exit {proc.returncode}"


def read() -> str:
    """The crontab as `crontab -l` gives it, byte for byte ("" when there is none)."""
    proc = _crontab("-l")
    if proc.returncode != 0:
        if b"no crontab for" in proc.stderr:
            return ""
        raise SisessionsError(f"`crontab -l` failed: {_said(proc)}")
    try:
        return proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise SisessionsError("your crontab is not UTF-8 text, so sisessions leaves it alone; "
                              "use --systemd instead") from None


def write(old: str, new: str) -> None:
    """Replace the crontab `old` (as read) by `new`, whole, or leave it exactly as it was.

    `crontab -` checks the new table and installs it by renaming a finished file, so a table it
    refuses (or a failure half-way) leaves the old crontab in place.
    """
    if new == old:
        return
    if read() != old:  # someone edited it meanwhile: writing ours would drop their change
        raise SisessionsError("your crontab changed while sisessions was changing it, so nothing was "
                              "written; run the command again")
    proc = _crontab("-r") if new == "" else _crontab("-", data=new.encode("utf-8"))
    if proc.returncode != 0:
        raise SisessionsError(f"the crontab could not be written ({_said(proc)}), "
                              "so it stays exactly as it was")


def _lines(text: str) -> list[str]:
    """Lines with their own endings, split on \\n only (str.splitlines also splits on \\f and
    friends, which would change a line that holds one)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def ours(text: str) -> dict[str, str]:
    """Our entries in a crontab's text, as id -> the line as it stands (without its newline)."""
    found = {}
    for line in _lines(text):
        m = _TAG_RE.search(line)
        if m and not line.lstrip().startswith("#"):
            found[m.group(1)] = line.rstrip("\n")
    return found


def changed(text: str, changes: dict[str, str | None], added: tuple[str, ...] | list[str] = ()) -> str:
    """The crontab with our lines in `changes` replaced (or dropped, for None) and `added`
    appended; every other line is kept as it was."""
    out = []
    for line in _lines(text):
        m = _TAG_RE.search(line)
        if m and m.group(1) in changes and not line.lstrip().startswith("#"):
            if changes[m.group(1)] is not None:
                out.append(changes[m.group(1)] + "\n")
            continue
        out.append(line)
    new = "".join(out)
    if added and new and not new.endswith("\n"):
        new += "\n"  # cron itself refuses a table whose last line has no newline
    return new + "".join(line + "\n" for line in added)


# ---------------------------------------------------------------- our line


def cron_command(spec: Spec, user: str | None) -> str:
    """The shell command of the entry, before cron's own escaping of `%`."""
    uid = user_uid(user) if spec.action == "play" else None
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in environment(spec, uid))
    return f"{env} {shlex.join(run_args(spec))} >> {shlex.quote(str(log_path(spec.id)))} 2>&1"


def cron_line(spec: Spec, user: str | None) -> str:
    command = cron_command(spec, user)
    # cron ends a line's command at a bare % (the rest is stdin) and reads \% as %; a backslash
    # just before a % cannot be written at all, nor can a line break.
    if "\n" in command or "\r" in command or "\\%" in command:
        raise UsageError("this schedule cannot be written as one crontab line (a folder name with a "
                         "line break, or a \\ before a %?); rename the folder or use --systemd")
    command = command.replace("%", "\\%")
    command += f" # {TAG}{spec.id}"  # to cron the tag is part of the command (the shell skips it)
    if len(command) > MAX_COMMAND:
        raise SisessionsError(f"the crontab entry would be {len(command)} characters, longer than cron "
                              f"reads ({MAX_COMMAND}); use shorter folder names or --systemd")
    return f"{spec.minute} {spec.hour} * * {cron_days(spec.days)} {command}"


def _unescaped(command: str) -> str:
    return command.replace("\\%", "%")


def _words(line: str) -> tuple[str, str, str, list[str]]:
    """(at, days, what, words of the command) of one of our lines, as they stand in the crontab."""
    line = _TAG_RE.sub("", line)
    fields = line.split(None, 5)
    if fields and fields[0].startswith("@"):  # someone made it @daily by hand
        at, dow, command = fields[0], "*", line.split(None, 1)[1] if len(fields) > 1 else ""
    elif len(fields) == 6:
        minute, hour, _dom, _month, dow, command = fields
        at = f"{int(hour):02d}:{int(minute):02d}" if hour.isdigit() and minute.isdigit() else f"{hour}:{minute}"
    else:
        return "?", "?", line.strip(), []
    try:
        days = days_text(parse_days(dow))
    except UsageError:
        days = dow
    try:
        words = shlex.split(_unescaped(command))
    except ValueError:
        return at, days, command, []
    return at, days, describe(_args_of(words)), words


def _args_of(words: list[str]) -> list[str]:
    """The sisessions arguments of one of our entries' commands (after `schedule run ID --`)."""
    if "--" not in words:
        return words
    rest = words[words.index("--") + 1:]
    return rest[:rest.index(">>")] if ">>" in rest else rest


def _log_of(words: list[str]) -> Path | None:
    i = words.index(">>") if ">>" in words else -1
    return Path(words[i + 1]) if 0 <= i < len(words) - 1 else None


# ---------------------------------------------------------------- add, list, remove


def add(spec: Spec, dry_run: bool = False) -> Added:
    user = crontab_user()
    line = cron_line(spec, user)
    notes = _notes(spec, user)
    if dry_run:
        return Added(spec, Status.DRY_RUN, line, notes)
    text = read()
    existing = ours(text).get(spec.id)
    if existing is not None and existing.strip() == line:
        return Added(spec, Status.UNCHANGED, line, notes)
    log_path(spec.id).parent.mkdir(parents=True, exist_ok=True)  # the shell opens the log, not us
    if existing is not None:
        write(text, changed(text, {spec.id: line}))
        return Added(spec, Status.UPDATED, line, notes)
    write(text, changed(text, {}, [line]))
    return Added(spec, Status.ADDED, line, notes)


def entries() -> list[Entry]:
    out = []
    for sid, line in ours(read()).items():
        at, days, what, words = _words(line)
        out.append(Entry(sid, at, days, what, Via.CRON, _log_of(words)))
    return out


def remove(sids: set[str]) -> None:
    """Drop our lines with these ids in one write; nothing else in the crontab changes."""
    text = read()
    write(text, changed(text, dict.fromkeys(sids)))


def _notes(spec: Spec, user: str | None) -> tuple[str, ...]:
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
