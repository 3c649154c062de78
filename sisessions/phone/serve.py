"""Serve one folder read-only over HTTP (Starlette + uvicorn), with ranges, and nothing outside it."""
from __future__ import annotations

import html
import socket
import stat
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sisessions.errors import UsageError
from sisessions.phone import files
from sisessions.phone.server import HeadCheck, bind, own_names, serve_forever, url_host

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def make_app(folder: Path, host: str | None = None) -> HeadCheck:
    """The read-only app for `folder`: GET and HEAD only (anything else is 405), only for a
    Host that is this computer (server.HeadCheck)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UsageError(f"{folder}: no such folder")
    root = root.resolve()

    async def answer(request: Request) -> Response:
        path = files.inside(root, request.path_params["path"])
        if path is None:
            return files.plain(404)
        try:
            folder = stat.S_ISDIR(path.stat().st_mode)
        except PermissionError:
            return files.plain(403)  # under a folder this user may not enter
        except OSError:
            return files.plain(404)  # gone, a symlink loop, a path too long for the system
        if folder:
            return _listing(request, path)
        return files.send_file(request, path)

    return HeadCheck(Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "HEAD"])]), own_names(host))


def _listing(request: Request, folder: Path) -> Response:
    """A plain list of links, for a phone's browser; hidden files and non-files are left out."""
    if not request.url.path.endswith("/"):
        return RedirectResponse(quote(request.url.path) + "/", status_code=301)
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                       if not p.name.startswith(".") and _utf8(p.name) and (p.is_dir() or p.is_file()))
    except OSError:
        return files.plain(403)
    items = "".join(f'<li><a href="{quote(n)}">{html.escape(n)}</a></li>' for n in names)
    return HTMLResponse("<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
                        f"<title>sisessions</title><ul>{items}</ul>\n")


def _utf8(name: str) -> bool:
    """A name that is UTF-8 text (a name of other bytes cannot be asked for by a URL here)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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


def shown_host(host: str) -> str:
    """The host as written in the address printed for the phone (IPv6 in brackets)."""
    return url_host(host if host not in ("0.0.0.0", "::", "") else (lan_address() or socket.gethostname()))


def run(folder: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
        say: Callable[[str], None] = print, log: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C, which is the normal way to stop (not an error)."""
    app = make_app(folder, host)
    root = Path(folder).expanduser().resolve()
    sock = bind(host, port)
    url = f"http://{shown_host(host)}:{sock.getsockname()[1]}/"
    say(f"Serving {root} read-only at {url}")
    if (root / "feed.xml").exists():
        say(f"Podcast feed: {url}feed.xml")
    if not is_local(host):
        say("Anyone on your network can now read the files in this folder. Press Ctrl-C to stop.")
    else:
        say("Only this computer can reach it; --host 0.0.0.0 opens it to your network. Press Ctrl-C to stop.")
    serve_forever(app, sock, log)
