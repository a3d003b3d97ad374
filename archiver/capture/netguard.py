"""The SSRF guard of SPEC §8, built into the connection layer of the fetcher.

httpx sends requests through httpcore, and httpcore asks a *network backend* to
open every TCP connection. :class:`GuardedBackend` wraps httpcore's default
backend: it resolves the host itself, refuses when an address is not allowed,
and then connects to the vetted IP address. The address that was checked is the
address that is used, so there is no DNS-rebinding gap between check and
connect, and the check covers every connection of every redirect hop.

TLS is unaffected: httpcore calls ``start_tls(server_hostname=<URL host>)`` on
the stream we return, so SNI and certificate verification still use the host
name, not the IP address.

Failures this layer decides are raised as :class:`ConnectFailure` (reason +
detail). It is deliberately *not* an httpcore exception, so httpcore and httpx
let it through unchanged; ``archiver.capture.fetch`` turns it into a result.

Only :mod:`archiver.capture.fetch` uses this module.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import ipaddress
import select
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any, Union

import httpcore
import httpx

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
# host, port -> IP address strings; may be sync or async.
Resolver = Callable[[str, int], Union[Awaitable[Sequence[str]], Sequence[str]]]
AddressPolicy = Callable[[IPAddress], bool]

# A host with many addresses: try at most this many before giving up.
MAX_ADDRESSES_TRIED = 4
_NO_SUCH_NAME = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


class ConnectFailure(Exception):
    """A connection the guarded backend would not or could not open."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # a SPEC §5 reason: "private-network", "dns", "refused"
        self.detail = detail


@dataclass(frozen=True)
class SpecialPurpose:
    """One entry of an IANA special-purpose address registry (RFC 6890)."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    name: str
    rfc: str
    globally_reachable: bool | None  # None: "N/A" in the registry (deprecated blocks, tunnel schemes)

    @property
    def bounds(self) -> tuple[int, int]:
        return int(self.network.network_address), int(self.network.broadcast_address)


# The registries' entries with their "Globally Reachable" column, as published by IANA:
# https://www.iana.org/assignments/iana-ipv4-special-registry/ (2024-2025 revisions)
# https://www.iana.org/assignments/iana-ipv6-special-registry/
# An address is judged by the most specific entry containing it, as the registries
# intend (192.0.0.9/32 is globally reachable inside the non-global 192.0.0.0/24).
# "N/A" entries (deprecated 6to4 relays and ORCHID, Teredo, 6to4) count as not public.
IPV4_SPECIAL_PURPOSE: tuple[tuple[str, str, str, bool | None], ...] = (
    ("0.0.0.0/8", '"This network"', "RFC 791, section 3.2", False),
    ("0.0.0.0/32", '"This host on this network"', "RFC 1122, section 3.2.1.3", False),
    ("10.0.0.0/8", "Private-Use", "RFC 1918", False),
    ("100.64.0.0/10", "Shared Address Space", "RFC 6598", False),
    ("127.0.0.0/8", "Loopback", "RFC 1122, section 3.2.1.3", False),
    ("169.254.0.0/16", "Link Local", "RFC 3927", False),
    ("172.16.0.0/12", "Private-Use", "RFC 1918", False),
    ("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890, section 2.1", False),
    ("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335", False),
    ("192.0.0.8/32", "IPv4 dummy address", "RFC 7600", False),
    ("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723", True),
    ("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155", True),
    ("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 section 2.2", False),
    ("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050 section 2.2", False),
    ("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737", False),
    ("192.31.196.0/24", "AS112-v4", "RFC 7535", True),
    ("192.52.193.0/24", "AMT", "RFC 7450", True),
    ("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526", None),
    ("192.168.0.0/16", "Private-Use", "RFC 1918", False),
    ("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534", True),
    ("198.18.0.0/15", "Benchmarking", "RFC 2544", False),
    ("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737", False),
    ("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737", False),
    ("240.0.0.0/4", "Reserved", "RFC 1112, section 4", False),
    ("255.255.255.255/32", "Limited Broadcast", "RFC 8190, RFC 919 section 7", False),
)
IPV6_SPECIAL_PURPOSE: tuple[tuple[str, str, str, bool | None], ...] = (
    ("::1/128", "Loopback Address", "RFC 4291", False),
    ("::/128", "Unspecified Address", "RFC 4291", False),
    ("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291", False),
    ("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052", True),  # NAT64: judged by the IPv4 address inside
    ("64:ff9b:1::/48", "IPv4-IPv6 Translat.", "RFC 8215", False),
    ("100::/64", "Discard-Only Address Block", "RFC 6666", False),
    ("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780", False),
    ("2001::/23", "IETF Protocol Assignments", "RFC 2928", False),
    ("2001::/32", "TEREDO", "RFC 4380, RFC 8190", None),
    ("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723", True),
    ("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155", True),
    ("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665", True),
    ("2001:2::/48", "Benchmarking", "RFC 5180, RFC Errata 1752", False),
    ("2001:3::/32", "AMT", "RFC 7450", True),
    ("2001:4:112::/48", "AS112-v6", "RFC 7535", True),
    ("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843", None),
    ("2001:20::/28", "ORCHIDv2", "RFC 7343", True),
    ("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "RFC 9374", True),
    ("2001:db8::/32", "Documentation", "RFC 3849", False),
    ("2002::/16", "6to4", "RFC 3056", None),
    ("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534", True),
    ("3fff::/20", "Documentation", "RFC 9637", False),
    ("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602", False),
    ("fc00::/7", "Unique-Local", "RFC 4193, RFC 8190", False),
    ("fe80::/10", "Link-Local Unicast", "RFC 4291", False),
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _registry(rows: tuple[tuple[str, str, str, bool | None], ...]) -> tuple[SpecialPurpose, ...]:
    entries = [SpecialPurpose(ipaddress.ip_network(block), name, rfc, glob) for block, name, rfc, glob in rows]
    return tuple(sorted(entries, key=lambda e: -e.network.prefixlen))  # most specific first


SPECIAL_PURPOSE: dict[int, tuple[SpecialPurpose, ...]] = {
    4: _registry(IPV4_SPECIAL_PURPOSE),
    6: _registry(IPV6_SPECIAL_PURPOSE),
}


_BOUNDS = {version: [(*entry.bounds, entry) for entry in entries] for version, entries in SPECIAL_PURPOSE.items()}


def special_purpose(address: IPAddress) -> SpecialPurpose | None:
    """The most specific registry entry containing ``address``, if any."""
    number = int(address)
    return next((entry for first, last, entry in _BOUNDS[address.version] if first <= number <= last), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries: mapped, 6to4, Teredo (the client), NAT64."""
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]


@functools.lru_cache(maxsize=4096)  # one lookup per address, however many connections go to it
def not_public_because(address: IPAddress) -> str | None:
    """Why ``address`` is not a public address (None: it is).

    An address in an IANA special-purpose block is public only when the most
    specific entry says "globally reachable"; an IPv6 form that carries an IPv4
    address (mapped, 6to4, Teredo, NAT64) is no more public than that address;
    outside the registries, Python's ``ipaddress`` knows the rest: multicast,
    reserved (IPv6 ::/8 and other unassigned space, IPv4 240/4), deprecated
    site-local fec0::/10.
    """
    entry = special_purpose(address)
    if entry is not None and not entry.globally_reachable:
        return f"{entry.name}, {entry.network}, {entry.rfc}"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            inner = not_public_because(embedded)
            if inner is not None:
                return f"carries {embedded}: {inner}"
    if entry is not None:
        return None
    for flag, name in (("is_multicast", "multicast"), ("is_reserved", "reserved"),
                       ("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                       ("is_link_local", "link-local"), ("is_site_local", "site-local, fec0::/10"),
                       ("is_private", "private")):  # fmt: skip
        if getattr(address, flag, False):
            return name
    return None if address.is_global else "not globally reachable"


def is_public_address(address: IPAddress) -> bool:
    """True for globally reachable unicast addresses (see :func:`not_public_because`)."""
    return not_public_because(address) is None


def allow_everything(address: IPAddress) -> bool:
    """The policy when ``allow_private_networks = true``."""
    return True


async def system_resolver(host: str, port: int) -> list[str]:
    """getaddrinfo through the event loop (a worker thread): IP strings in preference order."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _unique_addresses(found: Iterable[str]) -> list[IPAddress]:
    addresses: list[IPAddress] = []
    for text in found:
        address = ipaddress.ip_address(text.split("%")[0])  # drop an IPv6 scope id
        if address not in addresses:
            addresses.append(address)
    return addresses


def _dns_failure(host: str, exc: BaseException) -> ConnectFailure:
    if isinstance(exc, socket.gaierror) and exc.errno in _NO_SUCH_NAME:
        return ConnectFailure("dns", f"no DNS record for {host}")
    message = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return ConnectFailure("dns", f"DNS lookup for {host} failed: {message}")


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything behind it: causes, contexts, members of exception groups."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(getattr(current, "exceptions", ()))
        todo.extend(e for e in (current.__context__, current.__cause__) if e is not None)


def caused_by(exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of type ``kind`` in the chain of ``exc``, if any."""
    return next((e for e in exception_chain(exc) if isinstance(e, kind)), None)


def _is_readable(sock: socket.socket | None) -> bool:
    """Whether an idle socket has something to read (for keep-alive: the server closed it)."""
    if sock is None or sock.fileno() == -1:
        return True
    if not hasattr(select, "poll"):  # Windows
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class PeerStream(httpcore.AsyncNetworkStream):
    """A connected stream that knows its peer address without asking the OS.

    httpcore asks every idle pooled connection ``get_extra_info("is_readable")``
    on each request; anyio answers by rebuilding all socket attributes (with a
    getpeername call) every time. Answering from values kept at connect time
    keeps the per-request cost of a large pool small. ``server_addr`` is the
    vetted address we connected to.
    """

    def __init__(self, inner: httpcore.AsyncNetworkStream, peer: tuple[str, int], sock: socket.socket | None) -> None:
        self._inner = inner
        self._peer = peer
        self._sock = sock

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        tls = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        return PeerStream(tls, self._peer, self._sock)

    def get_extra_info(self, info: str) -> Any:
        if info == "server_addr":
            return self._peer
        if info == "is_readable":
            return _is_readable(self._sock)
        if info == "socket":
            return self._sock
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, but only ever connecting to allowed addresses."""

    def __init__(
        self,
        address_allowed: AddressPolicy,
        resolver: Resolver | None = None,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allowed = address_allowed
        self._resolver: Resolver = resolver or system_resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        """The addresses of ``host``; an IP literal is its own answer."""
        literal = _ip_literal(host)
        if literal is not None:
            return [literal]
        try:
            async with asyncio.timeout(timeout):
                found = self._resolver(host, port)
                if inspect.isawaitable(found):
                    found = await found
            addresses = _unique_addresses(found)
        except TimeoutError:
            raise ConnectFailure("timeout", f"DNS lookup for {host} timed out") from None
        except Exception as exc:  # any resolver failure means "does not resolve"
            raise _dns_failure(host, exc) from exc
        if not addresses:
            raise ConnectFailure("dns", f"no DNS record for {host}")
        return addresses

    def vet(self, host: str, addresses: list[IPAddress]) -> None:
        """Refuse the host when any of its addresses is not allowed.

        Any, not all: a name that mixes public and private records is how
        rebinding attacks start, and no real site needs that to be fetched."""
        for address in addresses:
            if not self._allowed(address):
                shown = "" if str(address) == host.strip("[]") else f" resolves to {address}, which"
                why = not_public_because(address) if isinstance(address, (ipaddress.IPv4Address,
                                                                           ipaddress.IPv6Address)) else None
                raise ConnectFailure(
                    "private-network",
                    f"{host}{shown} is not a public address ({why + '; ' if why else ''}"
                    "allow_private_networks is false)",
                )

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.resolve(host, port, timeout)
        self.vet(host, addresses)
        failure: Exception | None = None
        for address in addresses[:MAX_ADDRESSES_TRIED]:
            try:
                stream = await self._inner.connect_tcp(
                    str(address), port, timeout=timeout,
                    local_address=local_address, socket_options=socket_options,
                )  # fmt: skip
            except httpcore.ConnectError as exc:  # try the next address; timeouts propagate
                failure = exc
                if caused_by(exc, ConnectionRefusedError):
                    failure = ConnectFailure("refused", f"connection refused by {address}:{port}")
                    failure.__cause__ = exc
                continue
            return PeerStream(stream, (str(address), port), stream.get_extra_info("socket"))
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - never configured
        raise ConnectFailure("scheme", "unix sockets are never used")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def skip_failing_import() -> None:
    """httpcore 1.0 runs ``import sniffio`` for each lock it creates (several per
    request). Without sniffio installed (anyio 4 no longer pulls it in), each of
    those failed imports searches sys.path again: ~80 µs apiece, about 0.5 ms of
    CPU per request (measured: 15-20% of it). A ``None`` in sys.modules makes the import fail at once; httpcore then
    assumes asyncio, which is what we run on."""
    if "sniffio" not in sys.modules and find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


class LinearPool(httpcore.AsyncConnectionPool):
    """httpcore's pool with a clean-up pass that costs O(connections), not a poll each.

    httpcore 1.0 runs its pass on every request and every response, and in it
    (1) counts all connections once per idle connection, quadratic in the pool
    size, and (2) asks every connection ``has_expired()``, which polls each idle
    socket. With a connection per host lane that cost a third of a fetch
    worker's CPU. Here the count is kept once, the full expiry sweep runs at
    most every ``SWEEP_INTERVAL`` seconds, and an idle connection is polled
    just before it is handed to a request, so a connection the server closed
    while idle is never reused."""

    SWEEP_INTERVAL = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing: list[httpcore.AsyncConnectionInterface] = []
        now = time.monotonic()
        sweep = now >= self._next_sweep
        if sweep:
            self._next_sweep = now + self.SWEEP_INTERVAL
        if sweep or len(self._connections) > self._max_keepalive_connections:
            closing += self._prune(expired=sweep)
        for pool_request in [request for request in self._requests if request.is_queued()]:
            origin = pool_request.request.url.origin
            available = self._available(origin, closing)
            if available is not None:
                pool_request.assign_to_connection(available)
                continue
            if len(self._connections) >= self._max_connections:
                closing += self._prune(expired=False)
            if len(self._connections) >= self._max_connections:
                idle = next((c for c in self._connections if c.is_idle()), None)
                if idle is None:
                    continue
                self._connections.remove(idle)
                closing.append(idle)
            connection = self.create_connection(origin)
            self._connections.append(connection)
            pool_request.assign_to_connection(connection)
        return closing

    def _prune(self, *, expired: bool) -> list[httpcore.AsyncConnectionInterface]:
        """Drop closed connections, idle ones past the keep-alive limit and (``expired``) expired ones."""
        closing: list[httpcore.AsyncConnectionInterface] = []
        total = len(self._connections)
        for connection in list(self._connections):
            if connection.is_closed():
                self._connections.remove(connection)
                total -= 1
            elif ((expired and connection.has_expired())
                  or (connection.is_idle() and total > self._max_keepalive_connections)):
                self._connections.remove(connection)
                closing.append(connection)
                total -= 1
        return closing

    def _available(self, origin: httpcore.Origin,
                   closing: list[httpcore.AsyncConnectionInterface]) -> httpcore.AsyncConnectionInterface | None:
        """A live connection to ``origin`` free for a request; expired ones found on the way are closed."""
        while True:
            connection = next((c for c in self._connections
                               if c.can_handle_request(origin) and c.is_available()), None)
            if connection is None or not connection.has_expired():  # idle too long, or closed by the server
                return connection
            self._connections.remove(connection)
            closing.append(connection)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, connecting through a :class:`GuardedBackend`.

    ``AsyncHTTPTransport`` builds its httpcore pool in ``__init__`` and offers no
    ``network_backend`` parameter, so we let it build its pool and then replace
    ``self._pool`` with one made with the same settings plus our backend. The
    SSL context is httpx's default (``httpx.create_ssl_context(trust_env=True)``),
    so ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` are honoured. No proxy is ever used:
    a proxy would open the connections itself, out of reach of the guard.
    HTTP/1.1 only (HTTP/2 would need the optional h2 package).
    """

    def __init__(self, backend: GuardedBackend, limits: httpx.Limits) -> None:
        skip_failing_import()
        ssl_context = httpx.create_ssl_context(trust_env=True)
        super().__init__(verify=ssl_context, limits=limits, trust_env=True)
        self._pool = LinearPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=backend,
        )
