"""What the schedule tests share: `schedule add` on the fixture library, the ids and our lines in a
crontab, and an entry's command run as cron runs it; a throwaway user's crontab read and
written with the real `crontab` command (its fixtures, `cron_user` and `user`, are in conftest.py)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.conftest import FIXTURES, run_cli

LIB = FIXTURES / "morning"

# Every kind of line a person may keep in a crontab, written the way people write them:
# odd spacing, tabs, trailing blanks, quoted variables, `%`, a `#` inside a command,
# a commented-out job, a job of their own that runs sisessions, and a blank line at the end.
FOREIGN = (
    "# m h  dom mon dow   command\n"
    "MAILTO=\"\"\n"
    "FOO = \"bar baz\"  \n"
    "\n"
    "*/5  *\t* * *   /usr/bin/true # keep me\n"
    "  # an indented comment\t\n"
    "@reboot echo hi%there\n"
    "0 3 * * 0 echo \"a # b\" > /dev/null\n"
    "#30 6 * * * /usr/bin/false\n"
    "15 8 * * * /usr/local/bin/sisessions export towel -o /tmp/x.mp3 # my own, not tagged\n"
    "\u00e9t\u00e9=\u00f1\n"
    "\t\n"
)


def root_with_cron() -> bool:
    return os.geteuid() == 0 and bool(shutil.which("crontab")) and bool(shutil.which("useradd"))




def sh(*args, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=check)


def table(user: str) -> str:
    p = sh("crontab", "-u", user, "-l", check=False)
    return p.stdout if p.returncode == 0 else ""


def install(user: str, text: str) -> None:
    subprocess.run(["crontab", "-u", user, "-"], input=text, text=True, check=True)


def ours(text: str) -> dict[str, str]:
    return {m.group(1): line for line in text.splitlines() if (m := re.search(r"# sisessions:(\w+)$", line))}


def add(*args, check=0):
    return run_cli("--scripts", LIB, "schedule", "add", *args, check=check)


def added_id(proc) -> str:
    return re.search(r"(?:Scheduled|Updated|unchanged:) (\w{6}):", proc.stdout).group(1)


def command_of(line: str) -> str:
    """The command cron runs for a line, made as cron's do_command.c makes it: the text after the
    five time fields, where \\% is a literal % and any other backslash stays as it is."""
    out: list[str] = []
    escaped = False
    for ch in line.split(None, 5)[5]:
        if escaped:
            if ch == "%":
                out[-1] = "%"
            else:
                out.append(ch)
            escaped = False
            continue
        assert ch != "%", "a bare % ends cron's command: the rest would become its stdin"
        escaped = ch == "\\"
        out.append(ch)
    return "".join(out)


def run_like_cron(line: str, home: Path, user: str) -> subprocess.CompletedProcess:
    """Run an entry's command as cron does: /bin/sh -c with cron's few variables, from $HOME."""
    env = {"HOME": str(home), "LOGNAME": user, "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin"}
    return subprocess.run(["/bin/sh", "-c", command_of(line)], env=env, cwd=home, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)
