"""One file over HTTP, safely: only regular readable files inside a root, with validators, 304 and ranges.

Starlette's FileResponse sends the bytes (a single range, If-Range). Around it we decide what
it must never be asked: a path out of the root, a FIFO or device (which would block a worker
for ever), a file that cannot be opened (answered 403 before any byte instead of a 200 with a
truncated body), a range beyond any file (416 with `bytes */SIZE`, where a 5000-digit number
would otherwise be a 400), several ranges (its multipart answer is malformed: we send the
whole file with 200, which RFC 9110 §14.2 allows), and the conditional requests it leaves to
StaticFiles (If-None-Match / If-Modified-Since give 304).
"""
from __future__ import annotations

import email.utils
import errno
import os
import re
import stat
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

TYPES = {".mp3": "audio/mpeg", ".xml": "application/rss+xml", ".json": "application/json",
         ".lrc": "text/plain; charset=utf-8", ".vtt": "text/vtt; charset=utf-8",
         ".m3u8": "audio/x-mpegurl", ".png": "image/png", ".wav": "audio/wav",
         ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
MAX_DIGITS = 15          # a byte position longer than this is past any file there is
MAX_SEGMENT = 255        # a longer path segment cannot be a file name on Linux
_PART = re.compile(r"\s*(\d*)\s*-\s*(\d*)\s*")


def plain(status: int, text: str | None = None, headers: dict | None = None) -> Response:
    from http import HTTPStatus

    return PlainTextResponse(text or f"{status} {HTTPStatus(status).phrase}\n", status, headers=headers)


def inside(root: Path, rel: str) -> Path | None:
    """The path `rel` (already %-decoded once) names inside `root`, or None.

    `..`, backslashes, NUL, drive letters and hidden names are refused rather than
    normalised, and a symlink leading out of the root is refused too. Decoding happens once
    (by the server), so `%252e%252e` stays a literal name that does not exist.
    """
    parts = [p for p in rel.split("/") if p]
    if any(p in ("..", ".") or p.startswith(".") or "\\" in p or "\x00" in p or len(p.encode()) > MAX_SEGMENT
           or re.match(r"^[A-Za-z]:$", p) for p in parts):
        return None
    try:
        full = root.joinpath(*parts).resolve()
    except (OSError, ValueError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return None
    if full != root and not full.is_relative_to(root):
        return None
    return full


def opened(path: Path) -> os.stat_result | Response:
    """The file's stat when it is a regular file we can read, else the answer to send instead.

    Opened non-blocking, so a FIFO never blocks; opened at all, so a file we may not read is
    a 403 now rather than a failure after the 200 went out.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except PermissionError:
        return plain(403)
    except OSError as e:
        return plain(404 if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP,
                                        errno.ENXIO, errno.ENODEV) else 403)
    try:
        st = os.fstat(fd)
    finally:
        os.close(fd)
    if not stat.S_ISREG(st.st_mode):
        return plain(404)  # FIFOs, sockets, devices, folders: never served
    return st


def send_file(request: Request, path: Path, headers: dict | None = None) -> Response:
    """GET or HEAD of one file, with ETag, Last-Modified, 304, Range and If-Range."""
    st = opened(path)
    if isinstance(st, Response):
        return st
    media = TYPES.get(path.suffix.lower()) or "application/octet-stream"
    resp = FileResponse(path, stat_result=st, media_type=media, headers=headers)
    etag, modified = resp.headers["etag"], resp.headers["last-modified"]
    if not_modified(request, etag, st.st_mtime):
        keep = {k: resp.headers[k] for k in ("etag", "last-modified", "accept-ranges")}
        keep.update(headers or {})
        return Response(status_code=304, headers=keep)
    rng = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if rng is not None and (if_range is None or if_range in (etag, modified)):
        fixed = normal_range(rng, st.st_size)
        if fixed is None:
            return plain(416, headers={"Content-Range": f"bytes */{st.st_size}"})
        if fixed != rng:
            return _with_range(resp, fixed or None)
    return resp


def not_modified(request: Request, etag: str, mtime: float) -> bool:
    """RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only without it."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims:
        try:
            since = email.utils.parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        return int(mtime) <= since
    return False


def normal_range(header: str, size: int) -> str | None:
    """The `bytes=` Range header to hand to Starlette, "" to send the whole file (200), or None
    when no range can be satisfied (416).

    Numbers too long for any file are settled here: a first byte past the end is a range that
    cannot be satisfied (416 when it is the only one), a last byte past the end means "to the
    end", and a suffix longer than the file means the whole file (RFC 9110 §14.1.2). Several
    satisfiable ranges are answered with the whole file. Other malformed headers are left as
    they are for Starlette (it answers 400).
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return header
    parts = [m for m in (_PART.fullmatch(p) for p in spec.split(",")) if m and (m[1] or m[2])]
    if not parts:
        return header
    out = []
    for m in parts:
        first, last = m[1], m[2]
        if first:
            if len(first) > MAX_DIGITS or int(first) >= size:
                continue  # this one cannot be satisfied; another may be
            if len(last) > MAX_DIGITS:
                last = ""
            elif last and int(last) < int(first):
                return header  # malformed: Starlette's 400
        else:
            if size == 0 or int(last[:MAX_DIGITS + 1]) == 0:
                continue
            if len(last) > MAX_DIGITS or int(last) >= size:
                first, last = "0", ""
        out.append(f"{first}-{last}")
    if not out:
        return None
    if len(out) > 1:
        return ""
    return "bytes=" + out[0]


def _with_range(resp: Response, header: str | None):
    """Starlette reads Range from the scope: hand it the settled header instead of the sent one
    (None: no range, the whole file)."""
    async def app(scope, receive, send):
        raw = [(k, v) for k, v in scope["headers"] if k.lower() != b"range"]
        if header is not None:
            raw.append((b"range", header.encode("latin-1")))
        await resp(dict(scope, headers=raw), receive, send)

    return app
