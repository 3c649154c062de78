"""A real, small disk that fills up (a tmpfs mounted by root), for the tests of nothing lost:
the practice log's (practice/) and the companion's (phone/)."""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import missing_on_ci


@contextlib.contextmanager
def tiny_disk(where: Path, size: str = "64k"):
    """A real, small tmpfs at `where` (needs root, as the cron tests do): a disk that fills up."""
    if missing_on_ci(os.geteuid() != 0):  # CI runs as root: there it fails, never hides
        pytest.skip("mounting a small tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> None:
    """Fill the disk to its last byte."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size) == size:
                    pass
    finally:
        os.close(fd)
