"""The renderer's forward proxy: the only way Chromium reaches the network (SPEC §8).

The renderer's request guard (:meth:`archiver.check.render.Renderer._guard`)
looks a host up and lets the request go on when its addresses are public; but
Chromium then looks the host up again itself, and a DNS server that answers a
public address the first time and ``127.0.0.1`` the second (DNS rebinding)
would have sent the browser to the machine's own services. So Chromium is
started with this proxy as its proxy for every URL (loopback included), and
the proxy makes every connection itself: it resolves the host once, refuses it
when any address is not allowed, and connects to the address it checked.
Chromium never resolves a name.

``CONNECT host:port`` (HTTPS) becomes a tunnel to the checked address (TLS stays
end to end); a plain ``GET http://host/path`` is sent on in origin form with
``Connection: close``, so one proxy connection carries one request and a second
request cannot ride on a connection opened for another host. A refused host is
answered ``403`` with the reason; nothing is sent to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

# Opens a connection to ``host``:``port`` at an address the guard allows, or raises with the reason.
Opener = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]

MAX_HEAD = 64 * 1024  # bytes of a request's line and headers
_HOP_HEADERS = frozenset({b"connection", b"proxy-connection", b"keep-alive", b"proxy-authorization", b"te",
                          b"trailer", b"upgrade"})


class Refused(Exception):
    """The guard refused the host: the message says why."""


class GuardProxy:
    """An HTTP forward proxy on 127.0.0.1 that connects only through ``opener``."""

    def __init__(self, opener: Opener, *, idle: float) -> None:
        self._opener = opener
        self._idle = idle
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.refused: list[str] = []  # "host:port: why", for the log and for tests

    async def start(self) -> int:
        """Listen on a free port of 127.0.0.1; returns the port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_HEAD)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self._idle)
            line, _, rest = head.partition(b"\r\n")
            method, target, version = line.decode("latin-1").split(" ", 2)
            if method == "CONNECT":
                host, port = _host_port(target, 443)
                up_reader, upstream = await self._open(host, port, writer)
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
            else:
                parts = urlsplit(target)
                if parts.scheme != "http" or not parts.hostname:
                    raise ValueError(f"not an absolute http URL: {target[:200]}")
                up_reader, upstream = await self._open(parts.hostname, parts.port or 80, writer)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                upstream.write(f"{method} {path} {version}\r\n".encode("latin-1") + _end_to_end(rest)
                               + b"Connection: close\r\n\r\n")
            await self._relay(reader, writer, up_reader, upstream)
        except Refused:
            pass  # answered
        except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError) as exc:
            log.debug("render proxy: %s", exc)
        finally:
            for end in (upstream, writer):
                if end is not None:
                    with contextlib.suppress(Exception):
                        end.close()
            if task is not None:
                self._handlers.discard(task)

    async def _open(self, host: str, port: int,
                    client: asyncio.StreamWriter) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await self._opener(host, port)
        except Exception as exc:  # noqa: BLE001 - any failure refuses this one request, never the proxy
            why = str(exc) or type(exc).__name__
            self.refused.append(f"{host}:{port}: {why}")
            log.debug("render proxy: refused %s:%d: %s", host, port, why)
            body = why.encode("utf-8", "replace")[:500]
            client.write(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            with contextlib.suppress(Exception):
                await client.drain()
            raise Refused(why) from None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, upstream: asyncio.StreamWriter) -> None:
        """Bytes both ways until the upstream side ends (or stays idle too long)."""
        up = asyncio.create_task(self._copy(reader, upstream))
        try:
            await self._copy(up_reader, writer)
        finally:
            up.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await up

    async def _copy(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while chunk := await asyncio.wait_for(source.read(64 * 1024), self._idle):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            with contextlib.suppress(OSError):
                sink.write_eof()


def _host_port(authority: str, default: int) -> tuple[str, int]:
    """``example.com:443`` or ``[::1]:443`` -> (host, port)."""
    parts = urlsplit(f"//{authority}")
    if not parts.hostname:
        raise ValueError(f"no host in {authority[:200]!r}")
    return parts.hostname, parts.port or default


def _end_to_end(headers: bytes) -> bytes:
    """The request's header lines without the hop-by-hop ones (each line ending in CRLF)."""
    kept = []
    for line in headers.split(b"\r\n"):
        if line and line.split(b":", 1)[0].strip().lower() not in _HOP_HEADERS:
            kept.append(line + b"\r\n")
    return b"".join(kept)
