"""The phone companion (SPEC §7): a private page, its JSON API, the rendered audio and a feed,
behind one token."""
from __future__ import annotations

import errno
import hmac
import os
import re
import secrets
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sisessions import paths
from sisessions.errors import SisessionsError
from sisessions.fileio import private_dir, read_regular
from sisessions.phone import files, serve
from sisessions.phone.api import Api, Bad, _known_session, error, said
from sisessions.phone.server import HeadCheck, own_names
from sisessions.phone.renders import Renders
from sisessions.phone.renders import root as renders_root

TOKEN_FILE = "companion-token"
ADDRESS_FILE = "companion-address"  # the last address it printed, without the token (for reminders)
PUBLIC_CA = "/ca.crt"
COOKIE = "sisessions"
PAGE = Path(__file__).with_name("page.html")
LOCKED = Path(__file__).with_name("locked.html")   # the 401 page: how to get in, after the page's head
SCRIPTS = {"/offline.js": Path(__file__).with_name("offline.js"),  # the page's offline part (SPEC §9)
           "/sw.js": Path(__file__).with_name("sw.js")}            # its service worker, at the root for scope /
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,128}$")   # 22 url-safe characters carry 132 bits
# Paths a podcast app fetches: they carry ?t= in every request, since such apps keep no cookie.
_TOKEN_IN_URL = re.compile(r"^/(feed\.xml|cover\.png|media/[0-9a-f]+/[^/]+)$")
HEADERS = [  # on every answer: no referrer (the token), no sniffing, no framing
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self' 'unsafe-inline'; worker-src 'self'; style-src 'unsafe-inline'; "
     b"img-src 'self' data:; media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
     b"base-uri 'none'"),
]


# ---------------------------------------------------------------- the token


def token_file() -> Path:
    return paths.config_dir() / TOKEN_FILE


def token(new: bool = False) -> str:
    """The companion's token: 256 random bits kept (mode 0600) until `new`.

    A token file that exists but cannot be read, or does not hold a token, is an error and is
    left as it is: replacing it silently would break every phone's saved link with no word
    of why. `--new-token` replaces it (it is our own file) and says so by its very name.
    """
    f = token_file()
    if not new:
        try:
            text = read_regular(f, 4096).decode("ascii").strip()
        except FileNotFoundError:
            text = None
        except (OSError, UnicodeDecodeError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else "it is not a token"
            raise SisessionsError(f"the companion's token file {f} cannot be read ({why}); fix its "
                                  "permissions, or start with --new-token (every phone then needs the new address)") from e
        if text is not None:
            if not _TOKEN.match(text):
                raise SisessionsError(f"the companion's token file {f} does not hold a token; start with "
                                      "--new-token (every phone then needs the new address)")
            if f.stat().st_mode & 0o077:
                os.chmod(f, 0o600)
            return text
    value = secrets.token_urlsafe(32)
    private_dir(f.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{TOKEN_FILE}.", dir=f.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(value + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, f)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return value


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


class TokenGate:
    """Every request needs the token (?t= once, the cookie, or a Bearer header); else 401.

    ?t= on the page sets an HttpOnly, SameSite=Strict cookie and redirects to the same address
    without it, so the token leaves the address bar and the history.
    """

    def __init__(self, app, secret: str):
        self.app = app
        self.secret = secret

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        path = scope["path"]
        if path == PUBLIC_CA and request.method in ("GET", "HEAD"):  # public, so the phone can be told to trust it
            return await _ca(request)(scope, receive, send)
        given = request.query_params.get("t")
        auth = request.headers.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        if given is not None:
            if not same(given, self.secret):
                return await _unauthorized(path)(scope, receive, send)
            if not _TOKEN_IN_URL.match(path) and request.method in ("GET", "HEAD"):
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "t"]
                target = quote(path) + ("?" + urlencode(rest) if rest else "")
                resp = RedirectResponse(target, status_code=303)
                resp.set_cookie(COOKIE, self.secret, max_age=400 * 86400, path="/", httponly=True,
                                samesite="strict", secure=scope.get("scheme") == "https")
                return await resp(scope, receive, send)
        elif not (same(request.cookies.get(COOKIE), self.secret) or same(bearer, self.secret)):
            return await _unauthorized(path)(scope, receive, send)

        # the page and the API are never stored; audio may be kept by this browser only
        cache = b"private, no-cache" if _TOKEN_IN_URL.match(path) else b"no-store"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                extra = HEADERS + [(b"cache-control", cache)]
                message = dict(message, headers=list(message.get("headers", [])) + extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _ca(request: Request) -> Response:
    from sisessions.phone import tls

    pem = tls.ca_pem()
    if pem is None or request.url.scheme != "https":
        return files.plain(404, "404: the companion has no certificate authority; start it with --https.\n")
    return Response(pem, media_type="application/x-x509-ca-cert", headers={
        "content-disposition": 'attachment; filename="sisessions-ca.crt"', "cache-control": "no-cache",
        "x-content-type-options": "nosniff"})


def _unauthorized(path: str) -> Response:
    head = {"WWW-Authenticate": "Bearer"}
    if path.startswith("/api/"):
        return JSONResponse({"error": "This needs the companion's token: open the address it printed."},
                            401, headers=head)
    # a person who opened the page without the key reads, on a phone, how to get in
    return HTMLResponse(locked_page(), 401, headers=head)


def locked_page() -> bytes:
    """The 401 page: the page's own head (doctype, charset, viewport, colours, referrer policy)
    up to its <title>, then locked.html's title, style and body."""
    page = PAGE.read_bytes()
    return page[:page.index(b"<title>")] + LOCKED.read_bytes().split(b"\n", 1)[1]


# ---------------------------------------------------------------- the app


def make_app(secret: str, scripts: tuple[str, ...] = (), cache_dir: str | None = None,
             renders: Renders | None = None, host: str | None = None) -> HeadCheck:
    renders = renders or Renders(scripts, cache_dir)
    api = Api(scripts, renders)

    def page(request: Request) -> Response:
        return files.send_file(request, PAGE)

    def script(request: Request) -> Response:
        return files.send_file(request, SCRIPTS[request.url.path])

    def media(request: Request) -> Response:
        f = renders.file(request.path_params["rid"], request.path_params["name"])
        return files.send_file(request, f) if f is not None else files.plain(404)

    def cover(request: Request) -> Response:
        from sisessions.sources.cover import FEED_SIZE, cover_png

        return Response(cover_png(FEED_SIZE), media_type="image/png")

    def feed(request: Request) -> Response:
        return Response(feed_xml(renders, f"{request.url.scheme}://{request.url.netloc}/", secret),
                        media_type="application/rss+xml")

    def reminder(request: Request) -> Response:
        """Extension (SPEC §9): ?at=HH:MM&days=1,2,3,4,5 (0 is Sunday), for the phone's calendar."""
        from sisessions.practice import reminder as rm

        q = request.query_params
        m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", q.get("at", ""))
        days = q.get("days", "0,1,2,3,4,5,6")
        if not m or not re.fullmatch(r"[0-6](,[0-6]){0,6}", days):
            raise Bad("'at' must be a time like 07:30 and 'days' day numbers 0-6 (0 is Sunday)")
        lib = api.library()
        session = q.get("session", "today")
        if session == "today":
            title = "today's session"
        else:
            session = _known_session(lib, session)
            title = lib.session(session).title if session in lib.sessions else session
        base = f"{request.url.scheme}://{request.url.netloc}/"
        data = rm.ics(int(m[1]), int(m[2]), frozenset(int(d) for d in days.split(",")), session, title, base)
        return Response(data, media_type="text/calendar; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="sisessions.ics"'})

    def not_found(request: Request) -> Response:
        return error("there is nothing here", 404) if request.url.path.startswith("/api/") else files.plain(404)

    routes = [
        Route("/", page, methods=["GET", "HEAD"]),
        Route("/offline.js", script, methods=["GET", "HEAD"]),
        Route("/sw.js", script, methods=["GET", "HEAD"]),
        Route("/api/today", api.today),
        Route("/api/sessions", api.sessions),
        Route("/api/render", api.render, methods=["POST"]),
        Route("/api/render/{rid}", api.render_state),
        Route("/api/log", api.log_get, methods=["GET"]),
        Route("/api/log", api.log_post, methods=["POST"]),
        Route("/api/check", api.check_post, methods=["POST"]),
        Route("/api/settings", api.settings_post, methods=["POST"]),
        Route("/media/{rid}/{name}", media, methods=["GET", "HEAD"]),
        Route("/cover.png", cover, methods=["GET", "HEAD"]),
        Route("/feed.xml", feed, methods=["GET", "HEAD"]),
        Route("/reminder.ics", reminder, methods=["GET", "HEAD"]),
        Route("/{rest:path}", not_found, methods=["GET", "HEAD"]),
    ]
    handlers = {Bad: lambda request, e: error(str(e), e.status),
                SisessionsError: lambda request, e: error(said(e), e.exit_code == 2 and 400 or 500),
                OSError: lambda request, e: file_error(e),
                404: lambda request, e: not_found(request),
                405: lambda request, e: error("that method is not allowed here", 405)}
    site = Starlette(routes=routes, exception_handlers=handlers)
    return HeadCheck(TokenGate(_compressed(site), secret), own_names(host))


def _compressed(site):
    """The page, the API and the feed gzipped when the client takes it (Starlette's own
    middleware); audio, which is compressed already and served in byte ranges, never."""
    zipped = GZipMiddleware(site, minimum_size=1024)

    async def app(scope, receive, send):
        plain = scope["type"] == "http" and _TOKEN_IN_URL.match(scope["path"]) and scope["path"] != "/feed.xml"
        await (site if plain else zipped)(scope, receive, send)

    return app


def file_error(e: OSError) -> Response:
    """A file-system failure (a full disk, a file that became a folder) as one sentence:
    507 when the disk is full, else 500; never a traceback."""
    full = e.errno in (errno.ENOSPC, errno.EDQUOT)
    what = "the disk is full" if full else (e.strerror or type(e).__name__).lower()
    return error(f"a file of the companion could not be read or written ({what}); nothing was changed", 507 if full else 500)


def feed_xml(renders: Renders, base: str, secret: str) -> bytes:
    """The podcast feed of the finished renders; every URL carries the token."""
    from sisessions.phone import feed

    query = "?" + urlencode({"t": secret})
    episodes = []
    for rid, _meta in renders.ready():
        folder = renders_root() / rid
        found, _skipped = feed.read_episodes(folder)
        chapters = folder / "chapters.json"
        episodes += [replace(e, chapters_file=chapters if chapters.is_file() else None) for e in found]
    episodes.sort(key=lambda e: (e.published, e.file.name), reverse=True)

    def link(p: Path) -> str:
        return f"{base}media/{quote(p.parent.name)}/{quote(p.name)}{query}"

    # the self link too: a podcast app that adopts it must keep the token, or it loses the feed
    return feed.render(episodes, base, "sisessions", link=link, cover=f"{base}cover.png{query}",
                       self_url=f"{base}feed.xml{query}")


# ---------------------------------------------------------------- running it


def address_line(host: str, port: int, secret: str, scheme: str = "http") -> str:
    return f"Open on your phone: {scheme}://{serve.shown_host(host)}:{port}/?t={secret}"


def address_file() -> Path:
    return paths.state_dir() / ADDRESS_FILE


def last_address() -> str | None:
    """The address the companion printed when it last started, without its token (or None)."""
    try:
        text = address_file().read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text if re.fullmatch(r"https?://[^\s?#]+/", text) else None


def tls_files(host: str, https: bool, cert: str | None, key: str | None) -> tuple[tuple[str, str] | None, bool]:
    """The certificate and key to serve with (or None for plain http), and whether they are our own
    authority's (which the running server renews)."""
    from sisessions.errors import UsageError
    from sisessions.phone import tls

    if (cert is None) != (key is None):
        raise UsageError("--cert and --key go together: the certificate and its private key")
    if cert is not None:
        tls.check_pair(cert, key)
        return (cert, key), False
    if not https:
        return None, False
    c, k, _renewed = tls.ensure(host)
    return (str(c), str(k)), True


def run(host: str = "127.0.0.1", port: int = 8765, new_token: bool = False, scripts: tuple[str, ...] = (),
        cache_dir: str | None = None, say: Callable[[str], None] = print,
        warn: Callable[[str], None] = print, log: Callable[[str], None] | None = None,
        https: bool = False, cert: str | None = None, key: str | None = None) -> None:
    """Serve the companion until Ctrl-C (the normal way to stop)."""
    from sisessions.fileio import atomic_write_text
    from sisessions.phone.server import bind, serve_forever

    files_tls, ours = tls_files(host, https, cert, key)
    secret = token(new_token)
    app = make_app(secret, scripts, cache_dir, host=host)
    sock = bind(host, port)
    scheme = "https" if files_tls else "http"
    url_line = address_line(host, sock.getsockname()[1], secret, scheme)
    url = url_line.split(": ", 1)[1]
    atomic_write_text(address_file(), url.split("?", 1)[0] + "\n")
    say(url_line)
    if ours:
        say(f"The phone trusts this once: open {url.split('?', 1)[0]}ca.crt on it (README: Android, iOS).")
    elif not files_tls:
        say("Plain http: the page needs this computer on. With --https it keeps today's session on the phone.")
    if sys.stdout.isatty():
        import io

        import segno

        out = io.StringIO()
        segno.make(url, error="m").terminal(out=out, compact=True)
        say(out.getvalue().rstrip("\n"))
    if not serve.is_local(host):
        warn(f"sisessions: Listening on {host}: anyone on your network who has the address can open your log.")
    renew = None
    if ours:
        from sisessions.phone import tls

        def renew():
            c, k, renewed = tls.ensure(host)
            return (str(c), str(k)) if renewed else None
    serve_forever(app, sock, log, files_tls, renew)
