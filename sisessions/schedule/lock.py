"""A lock file that a scheduled run holds while it plays, so that a second run stays silent."""
from __future__ import annotations

import contextlib
import os
from datetime import datetime
from pathlib import Path
from typing import Iterator


class Busy(Exception):
    """The lock is held by another process; `holder` is what that process wrote in the file."""

    def __init__(self, path: Path, holder: str):
        super().__init__(path, holder)
        self.path = path
        self.holder = holder

    def __str__(self) -> str:
        return self.holder or "another run"


@contextlib.contextmanager
def hold(path: Path) -> Iterator[int]:
    """Hold an exclusive flock on `path` for the block, or raise Busy at once (never wait).

    Yields the file descriptor, so a child process can inherit it and keep the lock held for
    as long as it plays, even if its parent dies. The kernel drops the lock when the last
    holder exits, however it ends (a crash or SIGKILL cannot leave a stale lock behind).
    """
    import fcntl  # POSIX only; schedules exist only where cron or systemd do

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(path, os.pread(fd, 200, 0).decode("utf-8", "replace").strip()) from None
        # Who holds it, for the log of the run that finds it busy.
        since = datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {since}\n".encode(), 0)
        yield fd
    finally:
        os.close(fd)
