"""The practice log's file, below its records: whole lines appended in one locked write, cut
back on a short write, a private mode, and bounded reads of a regular file only."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from sisessions.errors import SisessionsError
from sisessions.fileio import private_dir, read_regular

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux: appends stay atomic, ids unguarded across processes
    fcntl = None

MAX_BYTES = 64 << 20  # centuries of daily records; a larger file is not a log of ours


def append(f: Path, lines: list[tuple[str | None, bytes]]) -> int:
    """Append (id, line) pairs to `f` in one O_APPEND write, and fsync it; returns how many were
    written (a line whose id is already in the file is left out).

    The exclusive lock on the file makes the look-up of ids and the write one step, so two
    processes sending the same id at once write it once. A short write (a full disk) is cut
    back to where the file ended, so a failed append leaves the file exactly as it was. The
    file is the person's health data: 0600 in a 0700 folder; anything but a regular file there
    is refused, never written into.
    """
    try:
        private_dir(f.parent)
        fd = os.open(f, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as e:
        raise _failed(f, e) from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SisessionsError(f"the practice log {f} is not a regular file; nothing was recorded")
        if st.st_mode & 0o077:
            os.fchmod(fd, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # released when fd is closed
            if any(rid is not None for rid, _ in lines):
                held = _read_all(fd)
                lines = [(rid, line) for rid, line in lines if rid is None or not _has_id(held, rid)]
            if not lines:
                return 0
            data = b"".join(line for _, line in lines)
            size = os.fstat(fd).st_size
            if size:
                os.lseek(fd, size - 1, os.SEEK_SET)  # O_APPEND still writes at the end
                if os.read(fd, 1) != b"\n":
                    data = b"\n" + data  # a torn last line stays alone on its line
            try:
                if os.write(fd, data) != len(data):
                    raise OSError(28, "No space left on device")
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # nothing half-written stays behind
                raise
        except OSError as e:
            raise _failed(f, e) from e
    finally:
        os.close(fd)
    return len(lines)


def read(f: Path) -> bytes | None:
    """The file's bytes, None when there is none; one sentence when it cannot be read (a
    folder, a FIFO, a device, more than MAX_BYTES)."""
    try:
        return read_regular(f, MAX_BYTES)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise SisessionsError(f"the practice log {f} cannot be read ({e.strerror or e})") from e


def _failed(f: Path, e: OSError) -> SisessionsError:
    return SisessionsError(f"the practice log {f} could not be written ({e.strerror or e}); nothing was recorded")


def _has_id(data: bytes, rid: str) -> bool:
    """Whether a line of the log (its bytes) is a record with this id."""
    needle = json.dumps(rid, ensure_ascii=False).encode("utf-8")
    for line in data.split(b"\n"):
        if needle not in line:
            continue  # the cheap test first: only lines that mention the id are parsed
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(obj, dict) and obj.get("id") == rid:
            return True
    return False


def _read_all(fd: int) -> bytes:
    chunks, pos = [], 0
    while chunk := os.pread(fd, 1 << 16, pos):
        chunks.append(chunk)
        pos += len(chunk)
    return b"".join(chunks)
