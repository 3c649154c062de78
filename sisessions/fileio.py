"""Atomic file writes: a temp file in the same folder, fsync, then rename over the target."""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux: no stale-part cleaning, writes still atomic
    fcntl = None

# The temp names this program writes beside a target: `.<name>.<8 mkstemp chars>[.mp3|.wav].part`
# (files from atomic_path, folders from temp_dir). Only these are ever cleaned, and only when
# no live process holds their lock: a file a SIGKILL left behind.
PART_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}(\.mp3|\.wav)?\.part$")
_FRESH_S = 2.0  # a part younger than this may be between its creation and its lock


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _lock(fd: int) -> bool:
    """Take the writer's lock on fd without waiting; False when a live process holds it."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = "", mode: int | None = None) -> Iterator[Path]:
    """Yield a temp path beside `target`; rename it onto `target` only if the block succeeds.

    An exception (Ctrl-C, SIGTERM and SIGHUP included) removes the temp file; SIGKILL leaves
    only a hidden `.target.*.part` file, never a partial file at the target path, and the next
    export into that folder removes it (clean_stale_parts): the lock held here while writing
    is what tells a stale part from one being written right now. `mode` (0o600 for the
    person's own data) replaces the umask's mode.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".part", dir=target.parent)
    tmp_path = Path(tmp)
    try:
        _lock(fd)
        os.fchmod(fd, 0o666 & ~_umask() if mode is None else mode)  # mkstemp makes 0600
        yield tmp_path
        os.fsync(fd)  # the same inode, whichever process (ffmpeg, wave) wrote through its own fd
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def temp_dir(target: Path) -> Iterator[Path]:
    """A hidden, locked temp folder `.target.*.part` beside `target` (removed if the block fails).

    The caller moves it into place; the lock only marks it as alive for clean_stale_parts.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _lock(fd)
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(fd)


def clean_stale_parts(folder: Path, dirs: bool = False) -> list[Path]:
    """Remove the temp parts in `folder` that a killed run of this program left behind.

    Only names in PART_NAME, only files (and with `dirs`, folders) that no process holds
    locked and that are older than a moment. Anything else, yours or another program's, stays.
    """
    removed: list[Path] = []
    if fcntl is None:
        return removed
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for e in entries:
        if not PART_NAME.match(e.name) or e.is_symlink():
            continue
        is_dir = e.is_dir(follow_symlinks=False)
        if (is_dir and not dirs) or not (is_dir or e.is_file(follow_symlinks=False)):
            continue
        try:
            if now - e.stat(follow_symlinks=False).st_mtime < _FRESH_S:
                continue
            fd = os.open(e.path, (os.O_RDONLY | os.O_DIRECTORY if is_dir else os.O_RDONLY) | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if not _lock(fd):
                continue  # a live export is writing it
            if is_dir:
                shutil.rmtree(e.path)
            else:
                os.unlink(e.path)
            removed.append(Path(e.path))
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def atomic_open(target: Path, mode: str = "w", private: bool = False, **kwargs) -> Iterator[IO]:
    """Open a temp file for writing that replaces `target` when the block ends without error
    (`private`: mode 0600, for the person's own data)."""
    with atomic_path(target, mode=0o600 if private else None) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f


def atomic_write_text(target: Path, text: str, private: bool = False) -> None:
    with atomic_open(target, "w", private=private, encoding="utf-8") as f:
        f.write(text)


# ---------------------------------------------------------------- the person's own files


class NotAFile(OSError):
    """A path that should hold one of our files holds something else (a FIFO, a device, a
    folder) or more than such a file ever holds: never read (it could hang or fill memory)."""


def private_dir(folder: Path) -> Path:
    """`folder` made (or kept) 0700: it holds health data (the log, settings, renders)."""
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.chmod(folder, 0o700)
    return folder


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (a symlink to one is fine).

    Opened non-blocking, so a FIFO never hangs; checked before reading, so a link to
    /dev/zero or a huge file is refused instead of read into memory. FileNotFoundError
    when there is none; NotAFile (an OSError) for anything else than such a file.
    """
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotAFile(errno.EINVAL, "not a regular file", str(path))
        if st.st_size > limit:
            raise NotAFile(errno.EFBIG, f"larger than {limit} bytes", str(path))
        chunks, size = [], 0
        while True:
            piece = os.read(fd, min(1 << 20, limit + 1 - size))
            if not piece:
                break
            chunks.append(piece)
            size += len(piece)
            if size > limit:  # it grew while being read
                raise NotAFile(errno.EFBIG, f"larger than {limit} bytes", str(path))
        return b"".join(chunks)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (flock on the folder itself, so no lock file is left)
    for a read-modify-write of a file in it: every process that changes that file takes it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def atomic_write_private(target: Path, data: bytes) -> None:
    """Write a secret (a key, a token): mode 0600 from its first byte, atomically."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)  # made 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
