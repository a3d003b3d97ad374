"""A real HTTP server on 127.0.0.1 for tests: routes answer like real sites do.

Each test registers the paths it needs (use unique paths, the server is shared
by the session)::

    url = server.route("/page", body=b"<html>...</html>", gzip=True, chunked=True)
    url = server.route("/old", status=301, headers={"Location": "/page"})
    url = server.route("/custom", handler=lambda req: ...)   # full control

A handler receives the ``BaseHTTPRequestHandler`` and writes the raw response
itself (``req.wfile``), which allows hanging, dropping the connection, or
sending bytes no well-behaved server would.
"""

from __future__ import annotations

import gzip as gzip_module
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    gzip: bool = False
    chunked: bool = False
    delay: float = 0.0  # seconds before the status line
    handler: Handler | None = None
    hits: int = 0


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # silence stderr
        pass

    def do_GET(self) -> None:  # noqa: N802
        host = (self.headers.get("Host") or "").split(":")[0]
        path = urlsplit(self.path).path
        route = self.server.owner.find(host, self.path, path)
        if route is None:
            self._send(Route(status=404, body=b"<html><body><h1>404 Not Found</h1></body></html>"))
            return
        route.hits += 1
        if route.handler is not None:
            route.handler(self)
            return
        self._send(route)

    do_HEAD = do_GET

    def _send(self, route: Route) -> None:
        if route.delay:
            time.sleep(route.delay)
        body = gzip_module.compress(route.body) if route.gzip else route.body
        self.send_response(route.status)
        if route.content_type:
            self.send_header("Content-Type", route.content_type)
        for key, value in route.headers.items():
            self.send_header(key, value)
        if route.gzip:
            self.send_header("Content-Encoding", "gzip")
        if route.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 1000):
                piece = body[start : start + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], owner: TestServer) -> None:
        self.owner = owner
        super().__init__(address, _RequestHandler)


class TestServer:
    """Routes keyed by path (and optionally by Host header)."""

    __test__ = False  # not a pytest test class

    def __init__(self, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self._http = _Server((host, 0), self)
        if ssl_context is not None:  # HTTPS: the handshake happens on accept
            self._http.socket = ssl_context.wrap_socket(self._http.socket, server_side=True)
        self.scheme = "https" if ssl_context is not None else "http"
        self.host = host
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )  # a short poll interval makes stop() quick

    def start(self) -> TestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, body: bytes | str = b"", **options: object) -> str:
        """Register ``path`` (with its query, if any) and return its full URL."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body=body, **options)  # type: ignore[arg-type]
        return self.url(path)

    def find(self, host: str, target: str, path: str) -> Route | None:
        for key in (f"{host}{target}", target, f"{host}{path}", path):
            if key in self.routes:
                return self.routes[key]
        return self.routes.get("*")


# --- helpers for handlers -------------------------------------------------


def respond(
    req: BaseHTTPRequestHandler,
    status: int = 200,
    body: bytes = b"ok",
    headers: dict[str, str] | None = None,
    content_type: str = "text/plain",
) -> None:
    """Write a complete response with a Content-Length from inside a handler."""
    req.send_response(status)
    req.send_header("Content-Type", content_type)
    for key, value in (headers or {}).items():
        req.send_header(key, value)
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


class Tracker:
    """A handler that records every request: arrival times and requests in flight.

    ``hold`` seconds pass between arrival and answer, so overlapping requests
    show up in ``max_in_flight`` (over all servers sharing the tracker) and
    ``max_per_host`` (keyed by the Host header without port)."""

    def __init__(self, hold: float = 0.0, body: bytes = b"ok") -> None:
        self.hold = hold
        self.body = body
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.per_host: dict[str, int] = {}
        self.max_per_host: dict[str, int] = {}
        self.starts: dict[str, list[float]] = {}
        self.paths: list[str] = []

    def __call__(self, req: BaseHTTPRequestHandler) -> None:
        host = (req.headers.get("Host") or "").split(":")[0]
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.per_host[host] = self.per_host.get(host, 0) + 1
            self.max_per_host[host] = max(self.max_per_host.get(host, 0), self.per_host[host])
            self.starts.setdefault(host, []).append(time.monotonic())
            self.paths.append(req.path)
        try:
            if self.hold:
                time.sleep(self.hold)
            respond(req, body=self.body)
        finally:
            with self.lock:
                self.in_flight -= 1
                self.per_host[host] -= 1


class Sequence:
    """A handler that plays a list of behaviours, one per request; the last repeats.

    Each behaviour is a handler, or a ``(status, headers)`` pair answered with
    a short body."""

    def __init__(self, *steps: Handler | tuple[int, dict[str, str]]) -> None:
        self.steps = list(steps)
        self.times: list[float] = []

    def __call__(self, req: BaseHTTPRequestHandler) -> None:
        index = min(len(self.times), len(self.steps) - 1)
        self.times.append(time.monotonic())
        step = self.steps[index]
        if callable(step):
            step(req)
        else:
            status, headers = step
            respond(req, status, f"answer {status}".encode(), headers)


def drop_connection(req: BaseHTTPRequestHandler) -> None:
    """Close the connection without answering."""
    req.close_connection = True
    req.connection.shutdown(2)
