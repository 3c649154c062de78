"""Serve one folder read-only over HTTP (Starlette + uvicorn), with ranges, and nothing outside it."""
from __future__ import annotations

import html
import socket
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sisessions.errors import UsageError
from sisessions.phone import files
from sisessions.phone.server import bind, serve_forever

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def make_app(folder: Path) -> Starlette:
    """The read-only app for `folder`: GET and HEAD only (anything else is 405)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UsageError(f"{folder}: no such folder")
    root = root.resolve()

    async def answer(request: Request) -> Response:
        path = files.inside(root, request.path_params["path"])
        if path is None:
            return files.plain(404)
        if path.is_dir():
            return _listing(request, path)
        return files.send_file(request, path)

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "HEAD"])])


def _listing(request: Request, folder: Path) -> Response:
    """A plain list of links, for a phone's browser; hidden files and non-files are left out."""
    if not request.url.path.endswith("/"):
        return RedirectResponse(quote(request.url.path) + "/", status_code=301)
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                       if not p.name.startswith(".") and (p.is_dir() or p.is_file()))
    except OSError:
        return files.plain(403)
    items = "".join(f'<li><a href="{quote(n)}">{html.escape(n)}</a></li>' for n in names)
    return HTMLResponse("<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
                        f"<title>sisessions</title><ul>{items}</ul>\n")


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
    return host if host not in ("0.0.0.0", "::", "") else (lan_address() or socket.gethostname())


def run(folder: Path, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
        say: Callable[[str], None] = print, log: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C, which is the normal way to stop (not an error)."""
    app = make_app(folder)
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
