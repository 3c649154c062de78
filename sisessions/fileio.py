"""Atomic file writes: a temp file in the same folder, fsync, then rename over the target."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside `target`; rename it onto `target` only if the block succeeds.

    An exception (Ctrl-C included) removes the temp file; SIGKILL leaves only a hidden
    `.target.*.part` file, never a partial file at the target path.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".part", dir=target.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a finished file follows the umask
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_open(target: Path, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temp file for writing that replaces `target` when the block ends without error."""
    with atomic_path(target) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f


def atomic_write_text(target: Path, text: str) -> None:
    with atomic_open(target, "w", encoding="utf-8") as f:
        f.write(text)
