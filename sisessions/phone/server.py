"""Running a Starlette app under uvicorn for `serve` and `companion`: one socket, limits, a clean stop."""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import threading
from typing import Callable

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from sisessions.errors import SisessionsError, UsageError

HEAD_TIMEOUT = 10.0      # seconds for a request line and headers to arrive in full
KEEP_ALIVE = 5           # seconds an idle kept-alive connection stays open
MAX_HEAD = 16 * 1024     # bytes of request line and headers (h11 answers 400 beyond)
MAX_CONNECTIONS = 64     # uvicorn answers 503 beyond: a bounded server on a home network
RENEW_CHECK_S = 12 * 3600  # how often a running HTTPS server asks whether its certificate needs renewing


class HeadDeadlineH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head.

    uvicorn arms its keep-alive timer only after a response and cancels it as soon as any
    byte arrives, so a client that sends half a request line and waits holds the connection
    for ever. This adds a deadline from the connection's start (and from each response's
    end) by which a whole request head must have come; it replaces nothing of uvicorn's.
    It reads `self.cycle`, which uvicorn sets for each request: private, tested by
    tests/test_feed.py::test_serve_times_out_a_half_sent_request.
    """

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_deadline()

    def connection_lost(self, exc) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        old = getattr(self, "_head_timer", None)
        if old is not None:
            old.cancel()
        waiting_for = self.cycle
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_deadline, waiting_for)

    def _head_deadline(self, waiting_for) -> None:
        if self.cycle is waiting_for and not self.transport.is_closing():  # no new request began
            try:
                self.conn.send(h11.ConnectionClosed())
            except h11.LocalProtocolError:
                pass
            self.transport.close()


def own_names(host: str | None = None) -> frozenset[str]:
    """The names this computer answers to (besides any IP address): localhost, its host name
    (and .local, as mDNS gives it), its full name, and --host when that is a name."""
    names = {"localhost", socket.gethostname(), socket.gethostname() + ".local", socket.getfqdn()}
    if host:
        names.add(host)
    return frozenset(n.lower().rstrip(".") for n in names if n)


def host_of(value: str) -> str | None:
    """The host part of a Host header (without the port, an IPv6 literal unbracketed), or None
    when it is malformed."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1:]
        if end < 0 or (rest and not (rest[0] == ":" and rest[1:].isdigit())):
            return None
        return value[1:end]
    name, _, port = value.partition(":")
    if port and not port.isdigit():
        return None
    return name


def host_allowed(value: str | None, names: frozenset[str]) -> bool:
    """Whether a request's Host is one this server serves: any IP address (a page can reach
    those only by address), or one of this computer's own names. A page on another name that
    resolves here (DNS rebinding) is refused before it can read anything."""
    if value is None:
        return True  # HTTP/1.0 without Host: no browser sends that
    host = host_of(value)
    if host is None:
        return False
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        return host.lower().rstrip(".") in names


class HeadCheck:
    """ASGI middleware that checks each request's head before anything else sees it: its Host
    must be one of ours (host_allowed; else 400), and the whole head at most MAX_HEAD bytes
    (else 431). h11's own limit holds only for a head that arrives in pieces; one sent in a
    single packet is parsed whole, so the size is checked here for every head."""

    def __init__(self, app, names: frozenset[str]):
        self.app, self.names = app, names

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + sum(
                len(k) + len(v) + 4 for k, v in scope["headers"])
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
            if head > MAX_HEAD:
                return await _refuse(send, 431, b"431: the request's headers are too large.\n")
            if not host_allowed(host, self.names):
                return await _refuse(send, 400, b"400: this server answers only to this computer's own "
                                                b"names and addresses.\n")
        await self.app(scope, receive, send)


async def _refuse(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def url_host(host: str) -> str:
    """A host as it is written in a URL: an IPv6 literal in brackets (RFC 3986)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0: any free port), with the errors said in one sentence."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UsageError(f"--host {host}: not an address of this computer ({e.strerror})") from e
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise SisessionsError(f"port {port} is already in use; choose another with --port") from e
        if e.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            raise UsageError(f"cannot listen on {host}:{port} ({e.strerror})") from e
        raise
    sock.set_inheritable(True)
    return sock


def config(app, log: Callable[[str], None] | None = None, tls: tuple[str, str] | None = None) -> uvicorn.Config:
    """uvicorn's settings; with `tls` (certificate and key files) it speaks HTTPS."""
    cert, key = tls or (None, None)
    cfg = uvicorn.Config(app, http=HeadDeadlineH11, lifespan="off", log_config=None,
                         access_log=log is not None, server_header=False, date_header=True,
                         timeout_keep_alive=KEEP_ALIVE, h11_max_incomplete_event_size=MAX_HEAD,
                         limit_concurrency=MAX_CONNECTIONS, timeout_graceful_shutdown=2,
                         proxy_headers=False, log_level="warning", ssl_certfile=cert, ssl_keyfile=key)
    cfg.load()  # the TLS context exists from here on, so a renewed certificate can be loaded into it
    return cfg


def renew_every(cfg: uvicorn.Config, renew: Callable[[], tuple[str, str] | None], seconds: float) -> threading.Event:
    """Call `renew` every `seconds`; when it returns new files, new connections use them (the
    TLS context takes a new certificate in place). Set the returned event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            try:
                files = renew()
            except Exception:  # noqa: BLE001 - the certificate in use stays; the next turn tries again
                continue
            if files is not None and cfg.ssl is not None:
                cfg.ssl.load_cert_chain(*files)

    threading.Thread(target=loop, daemon=True, name="tls-renew").start()
    return stop


class Running:
    """A server on a bound socket in a thread (tests, benchmarks); stop() ends it."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, tls: tuple[str, str] | None = None):
        self.sock = bind(host, port)
        self.port = self.sock.getsockname()[1]
        self.config = config(app, tls=tls)
        self.server = uvicorn.Server(self.config)
        self.server.install_signal_handlers = lambda: None  # the thread is not the main one
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        while not self.server.started and self.thread.is_alive():
            threading.Event().wait(0.01)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


class _Say(logging.Handler):
    def __init__(self, say: Callable[[str], None]):
        super().__init__()
        self.say = say

    def emit(self, record: logging.LogRecord) -> None:
        self.say(record.getMessage())


def serve_forever(app, sock: socket.socket, log: Callable[[str], None] | None = None,
                  tls: tuple[str, str] | None = None,
                  renew: Callable[[], tuple[str, str] | None] | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM, which are the normal way to stop (not an error).
    With `renew`, it is asked twice a day for a renewed certificate (a companion runs for months)."""
    if log is not None:
        logging.getLogger("uvicorn.access").addHandler(_Say(log))
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    cfg = config(app, log, tls)
    stop = renew_every(cfg, renew, RENEW_CHECK_S) if renew is not None and tls else None
    server = uvicorn.Server(cfg)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        pass
    finally:
        if stop is not None:
            stop.set()
        sock.close()
