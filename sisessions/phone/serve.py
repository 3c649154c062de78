"""Serve one folder read-only over HTTP, with byte ranges (players seek), and nothing outside it."""
from __future__ import annotations

import errno
import html
import mimetypes
import re
import socket
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import quote, unquote, urlsplit

from sisessions.errors import SisessionsError, UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
CHUNK = 64 * 1024
TYPES = {".mp3": "audio/mpeg", ".xml": "application/rss+xml", ".json": "application/json",
         ".lrc": "text/plain; charset=utf-8", ".vtt": "text/vtt; charset=utf-8",
         ".m3u8": "audio/x-mpegurl", ".png": "image/png", ".wav": "audio/wav"}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Refused(Exception):
    def __init__(self, status: HTTPStatus):
        self.status = status


def resolve(root: Path, raw: str) -> Path:
    """The file or folder that request target `raw` names inside `root`, or Refused.

    `..`, absolute paths (`//etc`, `/%2Fetc`, `C:`), backslashes and NUL are refused outright
    rather than normalised; hidden names (temp files, the export manifest) are not served; a
    symlink that leads out of the folder is refused too.
    """
    if raw.startswith(("http://", "https://")):  # absolute-form request target
        raw = urlsplit(raw).path or "/"
    target = raw.split("?", 1)[0].split("#", 1)[0]
    if not target.startswith("/"):
        raise Refused(HTTPStatus.BAD_REQUEST)
    try:
        rel = unquote(target[1:], errors="strict")
    except UnicodeDecodeError:
        raise Refused(HTTPStatus.BAD_REQUEST) from None
    if rel.startswith(("/", "\\")) or "\\" in rel or "\x00" in rel or re.match(r"^[A-Za-z]:", rel):
        raise Refused(HTTPStatus.FORBIDDEN)
    parts = [p for p in rel.split("/") if p]
    if any(p == ".." for p in parts):
        raise Refused(HTTPStatus.FORBIDDEN)
    if any(p.startswith(".") for p in parts):
        raise Refused(HTTPStatus.NOT_FOUND)
    full = root.joinpath(*parts).resolve()
    if full != root and not full.is_relative_to(root):
        raise Refused(HTTPStatus.FORBIDDEN)
    if not full.exists():
        raise Refused(HTTPStatus.NOT_FOUND)
    return full


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range; None to send the whole file.

    Raises Refused(416) when the range lies outside the file. Several ranges at once are
    answered with the whole file, which HTTP allows.
    """
    m = _RANGE.fullmatch(header.strip()) if header else None
    if not m or (not m[1] and not m[2]):
        return None
    if not m[1]:  # the last N bytes
        n = int(m[2])
        if n == 0 or size == 0:
            raise Refused(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
        return max(0, size - n), size - 1
    first = int(m[1])
    last = min(int(m[2]), size - 1) if m[2] else size - 1
    if first >= size or last < first:
        raise Refused(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
    return first, last


class Handler(BaseHTTPRequestHandler):
    """GET and HEAD only; any other method gets 501 from http.server."""

    server_version = "sisessions"
    protocol_version = "HTTP/1.1"  # keep-alive: players ask for many ranges

    def do_GET(self):
        self._answer(body=True)

    def do_HEAD(self):
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        root: Path = self.server.root
        # http.server turns a leading "//" into "/"; judge what the client really asked for
        words = self.requestline.split()
        raw = words[1] if len(words) == 3 else self.path
        try:
            path = resolve(root, raw)
            if path.is_dir():
                return self._listing(path, body)
            self._file(path, body)
        except Refused as e:
            self._refuse(e.status)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # a player that stopped listening: nothing to do

    def _refuse(self, status: HTTPStatus, size: int | None = None) -> None:
        self.send_response(status)
        if size is not None:  # 416 says how long the file is
            self.send_header("Content-Range", f"bytes */{size}")
        body = f"{status.value} {status.phrase}\n".encode()
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _file(self, path: Path, body: bool) -> None:
        size = path.stat().st_size
        try:
            rng = byte_range(self.headers.get("Range"), size)
        except Refused as e:
            return self._refuse(e.status, size)
        first, last = rng if rng else (0, size - 1)
        length = max(0, last - first + 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if rng else HTTPStatus.OK)
        self.send_header("Content-Type", TYPES.get(path.suffix.lower())
                         or mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", formatdate(path.stat().st_mtime, usegmt=True))
        if rng:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if not body:
            return
        with open(path, "rb") as f:
            f.seek(first)
            left = length
            while left > 0:
                data = f.read(min(CHUNK, left))
                if not data:
                    break
                self.wfile.write(data)
                left -= len(data)

    def _listing(self, folder: Path, body: bool) -> None:
        """A plain list of links, for a phone's browser; hidden files are left out."""
        if not self.path.split("?", 1)[0].endswith("/"):
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", self.path.split("?", 1)[0] + "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                       if not p.name.startswith("."))
        items = "".join(f'<li><a href="{quote(n)}">{html.escape(n)}</a></li>' for n in names)
        page = (f"<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
                f"<title>sisessions</title><ul>{items}</ul>\n").encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        if body:
            self.wfile.write(page)

    def log_message(self, format, *args):
        log = getattr(self.server, "log", None)
        if log is not None:
            log(f"{self.address_string()} {format % args}")


class FolderServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, address: tuple[str, int], log: Callable[[str], None] | None = None):
        self.root = root
        self.log = log
        super().__init__(address, Handler)


def make_server(folder: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                log: Callable[[str], None] | None = None) -> FolderServer:
    """A server bound to host:port (port 0: any free one); call serve_forever() on it."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UsageError(f"{folder}: no such folder")
    try:
        return FolderServer(root.resolve(), (host, port), log)
    except socket.gaierror as e:
        raise UsageError(f"--host {host}: not an address of this computer ({e.strerror})") from e
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise SisessionsError(f"port {port} is already in use; choose another with --port") from e
        if e.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            raise UsageError(f"cannot listen on {host}:{port} ({e.strerror})") from e
        raise


def is_local(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def lan_address() -> str | None:
    """This computer's address on the local network, for the phone (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
    except OSError:
        return None


def run(folder: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
        say: Callable[[str], None] = print, log: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C, which is the normal way to stop (not an error)."""
    server = make_server(folder, host, port, log)
    real_port = server.server_address[1]
    shown = host if host not in ("0.0.0.0", "::", "") else (lan_address() or socket.gethostname())
    url = f"http://{shown}:{real_port}/"
    say(f"Serving {server.root} read-only at {url}")
    if (server.root / "feed.xml").exists():
        say(f"Podcast feed: {url}feed.xml")
    if not is_local(host):
        say("Anyone on your network can now read the files in this folder. Press Ctrl-C to stop.")
    else:
        say("Only this computer can reach it; --host 0.0.0.0 opens it to your network. Press Ctrl-C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
