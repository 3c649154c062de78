"""What a schedule's entry runs: sisessions under the lock, logged, and the last result read back."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from sisessions import signals
from sisessions.schedule import lock
from sisessions.schedule.spec import lock_path, log_path, what_args

LOG_LIMIT = 512 * 1024  # a few KB a morning: over a year of runs before the oldest go


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _say(status: str, text: str) -> None:
    # Our own lines start with "--- TIME STATUS:" so `schedule list` can find the last result.
    print(f"--- {_now()} {status}: {text}", flush=True)


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


UNATTENDED = "SISESSIONS_UNATTENDED"  # set for the child: a scheduled run, nobody at the keys


def run(sid: str, args: list[str]) -> int:
    """Run `sisessions ARGS` under the lock; every line goes to stdout, which cron sends to the log."""
    action = (what_args(args) or ["?"])[0]
    trim_log(log_path(sid))
    _say("start", "sisessions " + shlex.join(args))
    t0 = time.monotonic()
    try:
        with lock.hold(lock_path(action, sid)) as fd:
            # The child keeps the lock's file open: it stays held while the session plays,
            # even if this process is killed.
            # UNATTENDED: nobody may be there to answer, so with no side known the session is
            # done evenly on both sides rather than refused (SPEC §8).
            with subprocess.Popen([sys.executable, "-m", "sisessions", *args], pass_fds=(fd,),
                                  env={**os.environ, UNATTENDED: "1"}) as child:
                try:
                    rc = signals.wait(child)
                except KeyboardInterrupt:
                    took = int(time.monotonic() - t0)
                    _say("stopped", f"stopped from outside after {took // 60}:{took % 60:02d} "
                                    f"(the run ended with exit {child.returncode})")
                    raise
    except lock.Busy as busy:
        doing = "playing" if action == "play" else "running"
        _say("skipped", f"the previous run ({busy}) is still {doing}, so this one did nothing")
        return 0
    took = int(time.monotonic() - t0)
    _say("ok" if rc == 0 else "failed", f"exit {rc} after {took // 60}:{took % 60:02d}")
    return rc


def last_run(log: Path | None) -> str:
    """The last result in a schedule's log, in a few words."""
    if log is None:
        return "not run yet"
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return "not run yet"
    for i in range(len(lines) - 1, -1, -1):
        m = re.match(r"--- (\S+) (start|ok|failed|skipped|stopped): (.*)$", lines[i])
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
    return "not run yet" if not lines else f"no result in {log}"
