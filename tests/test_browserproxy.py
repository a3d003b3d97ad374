"""The renderer's forward proxy (archiver.check.browserproxy) spoken to as Chromium speaks to it.

The renders in tests/test_render.py go through it with the real browser; here each
request shape is driven by hand against a local server: a tunnel (CONNECT), a plain
request in absolute form, and a refusal.
"""

from __future__ import annotations

import asyncio
from typing import Any

from archiver.check.browserproxy import GuardProxy

from .server import Route, respond


async def _exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def _proxied(opener: Any, *requests: bytes) -> list[bytes]:
    async def run() -> list[bytes]:
        proxy = GuardProxy(opener, idle=5)
        port = await proxy.start()
        try:
            return [await _exchange(port, request) for request in requests]
        finally:
            await proxy.close()

    return asyncio.run(run())


def test_a_tunnel_and_a_plain_request_reach_an_allowed_host(make_server: Any) -> None:
    site = make_server()
    headers: list[dict[str, str]] = []
    site.routes["/hello"] = Route(handler=lambda req: (headers.append(dict(req.headers)),
                                                       respond(req, 200, b"hello from the site")))
    opened: list[tuple[str, int]] = []

    async def opener(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        opened.append((host, port))
        return await asyncio.open_connection(site.host, site.port)  # the address the guard checked

    tunnel = (f"CONNECT site.example:{site.port} HTTP/1.1\r\nHost: site.example:{site.port}\r\n\r\n"
              f"GET /hello HTTP/1.1\r\nHost: site.example\r\nConnection: close\r\n\r\n").encode()
    plain = (f"GET http://site.example:{site.port}/hello HTTP/1.1\r\nHost: site.example:{site.port}\r\n"
             "Proxy-Connection: keep-alive\r\nConnection: keep-alive\r\nAccept: */*\r\n\r\n").encode()
    through_tunnel, plainly = _proxied(opener, tunnel, plain)
    assert through_tunnel.startswith(b"HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.") \
        and through_tunnel.endswith(b"hello from the site")
    assert plainly.startswith(b"HTTP/1.") and plainly.endswith(b"hello from the site")
    assert opened == [("site.example", site.port)] * 2
    # sent on in origin form, one request per connection, without the proxy's own headers
    sent = {key.lower(): value for key, value in headers[1].items()}
    assert sent["connection"] == "close" and "proxy-connection" not in sent and sent["accept"] == "*/*"


def test_a_refused_host_is_answered_403_and_never_connected_to(make_server: Any) -> None:
    async def opener(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        raise PermissionError(f"{host}: private-network (loopback)")

    tunnel, plain = _proxied(opener, b"CONNECT 127.0.0.1:22 HTTP/1.1\r\n\r\n",
                             b"GET http://metadata.example/latest HTTP/1.1\r\nHost: metadata.example\r\n\r\n")
    for answer, host in ((tunnel, "127.0.0.1"), (plain, "metadata.example")):
        assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert answer.endswith(f"{host}: private-network (loopback)".encode())


def test_what_is_not_a_proxy_request_is_closed_without_an_answer() -> None:
    async def opener(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        raise AssertionError("nothing may be opened")

    relative, ftp = _proxied(opener, b"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n",
                             b"GET ftp://files.example/x HTTP/1.1\r\n\r\n")
    assert relative == b"" and ftp == b""
