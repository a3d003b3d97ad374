"""Fetch: the one place where archiver talks to the network.

:class:`Fetcher` owns one ``httpx.AsyncClient``; ``fetch(url)`` follows redirects
hop by hop and returns a :class:`~archiver.models.FetchResult` — a network
problem is a result, never an exception. ``fetch_many(urls)`` is the engine:
bounded concurrency, per-host slots and delays, retries, robots.txt.

Behaviour (SPEC §4, §5, §8):

- Only ``http``/``https``; anything else is ``scheme``, an unparsable URL
  ``invalid-url`` — checked again for every redirect target.
- The SSRF guard lives in the connection layer (:mod:`archiver.capture.netguard`):
  every connection of every hop connects only to addresses that were vetted.
- Bodies are streamed *as sent* (``Content-Encoding`` kept, chunking removed)
  to a temp file under ``temp_dir`` with their SHA-1, up to ``max_body``
  (then ``truncated="length"``). Since the stored body is de-chunked, a
  ``Transfer-Encoding`` response header is not kept under its own name but as
  ``X-Archive-Orig-Transfer-Encoding`` (the name pywb uses for original headers).
- ``total_timeout`` bounds the network time of one fetch: every hop and
  body of every attempt, and the pauses between attempts; time spent waiting
  for a politeness slot does not count; a retry that would not fit is not
  made. A body that stalls (read timeout or total timeout) keeps its hop with
  the bytes received, ``truncated="time"`` and ``error="timeout"``; a body cut off by the server
  keeps its hop with ``truncated="disconnect"`` and ``error="connection"``.
- Every request carries the configured ``User-Agent`` and
  ``Accept-Encoding: gzip, deflate`` (what the rest of archiver can decode).
- Proxies from the environment are ignored (a proxy would connect in our
  place, beyond the guard); ``SSL_CERT_FILE``/``SSL_CERT_DIR`` are honoured.
- Cookies set during one redirect chain are sent on its later hops, like a
  browser would; nothing is shared between fetches.
- Retries: see :class:`~archiver.capture.politeness.RetryPolicy`. Only the final
  attempt's result is returned (``attempts`` says how many there were).

Error translation happens in :func:`translate` only: httpx/httpcore exceptions
and :class:`~archiver.capture.netguard.ConnectFailure` become SPEC §5 reasons there.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import hashlib
import itertools
import os
import re
import secrets
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from urllib.parse import urlencode, urlsplit

import httpx
from protego import Protego

from . import diskspace
from ..config import FetchConfig
from ..models import FetchResult, Hop
from .netguard import (
    ConnectFailure, GuardedBackend, GuardedTransport, IPAddress, Resolver,
    allow_everything, caused_by, is_public_address,
)  # fmt: skip
from .politeness import ROBOTS_MAX_BYTES, HostGates, RetryPolicy, fan_out, parse_robots

__all__ = ["FetchStats", "Fetcher", "fetch_one", "translate"]

# We never decode bodies here; advertise only what the rest of archiver decodes
# (extract.decode_body: gzip and deflate; no br even when a brotli library exists).
ACCEPT_ENCODING = "gzip, deflate"
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# fetch_many runs this many tasks per request slot: tasks waiting for a host's
# per_host_delay hold no request slot, so other hosts keep the slots busy.
WINDOW_PER_REQUEST = 2
API_MAX_BODY = 1_000_000  # bytes kept of a web API's answer (Fetcher.call)
READ_AHEAD = 10_000  # URLs fetch_many takes from its input before starting them
_HOST = re.compile(rb"^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|[0-9a-f:.]+)$", re.IGNORECASE)  # name or IP
_DROPPED_HEADER = b"transfer-encoding"
_KEPT_AS = b"X-Archive-Orig-Transfer-Encoding"

Problem = tuple[str, str]  # (reason, detail)


@dataclass
class FetchStats:
    """Counters over the life of one :class:`Fetcher`."""

    requests: int = 0  # HTTP requests started (every hop, robots.txt included)
    retries: int = 0
    bytes: int = 0  # body bytes received, as sent
    robots_fetches: int = 0


def _host_key(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def parse_target(text: str) -> tuple[httpx.URL | None, Problem | None]:
    """A URL to request, or why it cannot be requested."""
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return None, ("invalid-url", f"not a valid URL: {text!r} ({exc})")
    if not url.scheme:
        return None, ("invalid-url", f"not an absolute URL: {text!r}")
    if url.scheme not in ("http", "https"):
        return None, ("scheme", f"{url.scheme}: URLs are not fetched, only http and https ({text[:80]})")
    try:
        host = url.host  # decodes punycode: a malformed "xn--" label raises idna.IDNAError (a ValueError)
    except ValueError as exc:
        return None, ("invalid-url", f"bad host in URL: {text!r} ({exc})")
    if not host:
        return None, ("invalid-url", f"no host in URL: {text!r}")
    if not _HOST.match(url.raw_host) or not 0 < (url.port or 1) < 65536:
        return None, ("invalid-url", f"bad host or port in URL: {text!r}")
    return (url.copy_with(fragment=None) if url.fragment else url), None


def translate(exc: BaseException, host: str, config: FetchConfig) -> Problem:
    """The one translation boundary: an exception from the network -> (reason, detail)."""
    if isinstance(exc, ConnectFailure):
        return exc.reason, exc.detail
    if isinstance(exc, TimeoutError):  # our total_timeout (asyncio.timeout)
        return "timeout", f"{host} did not finish answering within total_timeout ({config.total_timeout:g}s)"
    if isinstance(exc, httpx.ConnectTimeout):
        return "timeout", f"connecting to {host} timed out after {config.connect_timeout:g}s"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"{host} sent nothing for {config.read_timeout:g}s"
    tls = caused_by(exc, ssl.SSLError)
    if tls is not None:
        why = getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or str(tls)
        return "tls", f"TLS with {host} failed: {why}"
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)):
        return "invalid-url", f"cannot request this URL: {exc}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection", f"{host}: {exc or 'protocol error'}"
    if isinstance(exc, httpx.HTTPError):
        return "connection", f"connection to {host} failed: {exc or type(exc).__name__}"
    raise exc  # not a network problem: a bug, let it show


class _BodySink:
    """The body as sent -> a temp file and its SHA-1, stopping at ``cap`` bytes."""

    __slots__ = ("path", "_file", "_sha1", "length", "_cap", "truncated", "full", "_reserve", "_unchecked")

    def __init__(self, path: Path, cap: int) -> None:
        self.path = path
        self._file = open(path, "xb", buffering=64 * 1024)  # noqa: SIM115 - closed in close()
        self._sha1 = hashlib.sha1()
        self.length = 0
        self._cap = cap
        self.truncated: str | None = None
        self.full = False  # the disk filled up (ENOSPC), or would have: the body is not kept
        self._reserve = diskspace.reserve(path.parent)  # never eaten into by one body
        self._unchecked = 0  # bytes written since the room on the disk was last looked at

    def write(self, chunk: bytes) -> bool:
        """Store ``chunk``; False once the cap is reached or the disk is full (stop reading)."""
        room = self._cap - self.length
        if len(chunk) > room:
            chunk = chunk[:room]
            self.truncated = "length"
        self._unchecked += len(chunk)
        if self._unchecked >= self._reserve // 4:  # bounded overshoot, a few looks per large body
            self._unchecked = 0
            if diskspace.room(self.path.parent) < self._reserve + len(chunk):
                self.full = True
                return False
        try:
            self._file.write(chunk)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            self.full = True
            return False
        self._sha1.update(chunk)
        self.length += len(chunk)
        return self.truncated is None

    @property
    def digest(self) -> str:
        return "sha1:" + base64.b32encode(self._sha1.digest()).decode("ascii")

    def close(self) -> None:
        try:
            self._file.close()  # flushes the buffer: may find the disk full too
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            self.full = True


class _Budget:
    """What is left of ``total_timeout`` for one attempt."""

    __slots__ = ("left",)

    def __init__(self, total: float) -> None:
        self.left = total


def _stored_headers(raw: list[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((_KEPT_AS, v) if k.lower() == _DROPPED_HEADER else (k, v) for k, v in raw)


def _peer_ip(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    address = stream.get_extra_info("server_addr") if stream is not None else None
    return str(address[0]) if address else None


class Fetcher:
    """Fetches URLs politely and safely; use as ``async with Fetcher(...) as f``."""

    def __init__(
        self,
        config: FetchConfig,
        *,
        temp_dir: Path,
        resolver: Resolver | None = None,
        address_allowed: Callable[[IPAddress], bool] | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.stats = FetchStats()
        self.retry_policy = retry_policy or RetryPolicy()
        self.read_ahead = READ_AHEAD
        self._temp_dir = Path(temp_dir)
        self._temp_dir.mkdir(parents=True, exist_ok=True)
        self._names = itertools.count()
        self._prefix = f"fetch-{os.getpid()}-{secrets.token_hex(3)}"
        self._gates = HostGates(config.per_host_concurrency, config.per_host_delay)
        self._in_flight = asyncio.Semaphore(config.concurrency)
        self._robots: dict[str, asyncio.Task[Protego | None]] = {}
        policy = allow_everything if config.allow_private_networks else (address_allowed or is_public_address)
        # Room for an idle connection per host lane of fetch_many's window, so
        # lanes keep their connection; requests in flight are capped by _in_flight.
        lanes = WINDOW_PER_REQUEST * config.concurrency
        limits = httpx.Limits(max_connections=lanes, max_keepalive_connections=lanes)
        self._transport = GuardedTransport(GuardedBackend(policy, resolver), limits)
        timeout = httpx.Timeout(config.read_timeout, connect=config.connect_timeout, pool=config.connect_timeout)
        self._client = httpx.AsyncClient(  # builds requests; they go straight to the transport
            transport=self._transport,
            timeout=timeout,
            headers={"User-Agent": config.user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
            follow_redirects=False,
            trust_env=False,  # no proxies or netrc from the environment
        )

    async def __aenter__(self) -> Fetcher:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in self._robots.values():
            task.cancel()
        await asyncio.gather(*self._robots.values(), return_exceptions=True)
        await self._client.__aexit__(kind, exc, tb)

    async def fetch(self, url: str, *, retries: int | None = None, headers: Mapping[str, str] | None = None,
                    follow_redirects: bool = True) -> FetchResult:
        """Fetch one URL with its redirects, retrying transient failures.

        ``headers`` are sent on every hop besides the usual ones (a Memento
        ``Accept-Datetime``, ...); with ``follow_redirects=False`` a redirect is the
        final answer (a TimeGate's 302 is what a lookup wants to keep).
        """
        allowed = (self.config.retries if retries is None else retries) + 1
        budget = _Budget(self.config.total_timeout)  # shared by every attempt: retries never extend it
        for attempt in itertools.count(1):
            result = await self._attempt(url, self.config.max_body, robots=self.config.respect_robots,
                                         headers=headers, follow=follow_redirects, budget=budget)
            result.attempts = attempt
            wait = self.retry_policy.delay(attempt, result) if attempt < allowed else None
            if wait is None or wait >= budget.left:
                return result
            result.cleanup()
            self.stats.retries += 1
            budget.left -= wait
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def fetch_many(self, urls: Iterable[str]) -> AsyncIterator[FetchResult]:
        """Fetch every URL; results in completion order. The input is read lazily."""
        results = fan_out(
            urls, self.fetch, key=_host_key, window=WINDOW_PER_REQUEST * self.config.concurrency,
            per_key=self.config.per_host_concurrency, read_ahead=self.read_ahead,
            discard=FetchResult.cleanup,
        )  # fmt: skip
        async with aclosing(results):  # stopping early cancels the tasks at once
            async for result in results:
                yield result

    async def call(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                   data: Mapping[str, str] | None = None, cap: int = API_MAX_BODY) -> FetchResult:
        """One request to a web API (``POST`` a form, ``GET`` a status): no redirects,
        no retries, no robots.txt; the same guards, slots and timeouts as a fetch."""
        result = FetchResult(url=url)
        target, problem = parse_target(url)
        if target is None or problem is not None:
            result.error, result.detail = problem or ("invalid-url", url)
            return result
        content = urlencode(list(data.items())).encode("ascii") if data is not None else None
        wanted = dict(headers or {})
        if content is not None:
            wanted.setdefault("Content-Type", "application/x-www-form-urlencoded")
        hop, problem = await self._hop(target, httpx.Cookies(), _Budget(self.config.total_timeout), cap,
                                       headers=wanted, method=method, content=content)
        if hop is not None:
            result.hops.append(hop)
        if problem is not None:
            result.error, result.detail = problem
        return result

    async def _attempt(self, url: str, cap: int, *, robots: bool, headers: Mapping[str, str] | None = None,
                       follow: bool = True, budget: _Budget | None = None) -> FetchResult:
        """One try: follow redirects hop by hop, each hop through the guards, within ``budget``."""
        result = FetchResult(url=url)
        target, problem = parse_target(url)
        cookies = httpx.Cookies()
        if budget is None:
            budget = _Budget(self.config.total_timeout)
        try:
            for _ in range(self.config.max_redirects + 1):
                if target is None or problem is not None:
                    result.error, result.detail = problem or ("invalid-url", url)
                    return result
                if robots and not await self._robots_allow(target):
                    path = target.raw_path.decode("ascii")
                    result.error, result.detail = "robots", f"robots.txt of {target.host} disallows {path}"
                    return result
                hop, problem = await self._hop(target, cookies, budget, cap, headers=headers)
                if hop is not None:
                    result.hops.append(hop)
                if problem is not None:
                    result.error, result.detail = problem
                    return result
                assert hop is not None
                if not hop.is_redirect or not follow:
                    return result
                target, problem = self._follow(target, hop.header("location") or "")
            result.error = "too-many-redirects"
            result.detail = f"more than {self.config.max_redirects} redirects (max_redirects)"
            return result
        except BaseException:
            result.cleanup()
            raise

    @staticmethod
    def _follow(base: httpx.URL, location: str) -> tuple[httpx.URL | None, Problem | None]:
        try:
            joined = str(base.join(location))
        except (httpx.InvalidURL, ValueError) as exc:
            return None, ("invalid-url", f"redirect to an invalid URL: {location!r} ({exc})")
        target, problem = parse_target(joined)
        if problem is not None:
            problem = (problem[0], f"redirected to {joined[:200]}: {problem[1]}")
        return target, problem

    async def _hop(
        self, url: httpx.URL, cookies: httpx.Cookies, budget: _Budget, cap: int, *,
        headers: Mapping[str, str] | None = None, method: str = "GET", content: bytes | None = None,
    ) -> tuple[Hop | None, Problem | None]:
        """One request in a host slot and an overall slot, timed against the budget."""
        loop = asyncio.get_running_loop()
        async with self._gates.slot(url.host) as gate, self._in_flight:
            self._gates.started(gate)
            started = loop.time()
            try:
                return await self._exchange(url, cookies, budget, cap, headers=headers, method=method,
                                            content=content)
            finally:
                budget.left -= loop.time() - started

    async def _exchange(
        self, url: httpx.URL, cookies: httpx.Cookies, budget: _Budget, cap: int, *,
        headers: Mapping[str, str] | None = None, method: str = "GET", content: bytes | None = None,
    ) -> tuple[Hop | None, Problem | None]:
        """One request and its body; the hop (if an answer came) and what went wrong."""
        request = self._client.build_request(method, url, headers=headers, content=content,
                                             cookies=cookies if len(cookies.jar) else None)
        sink = _BodySink(self._temp_dir / f"{self._prefix}-{next(self._names)}.body", cap)
        started_at = datetime.now(timezone.utc)
        self.stats.requests += 1
        try:
            response, problem = await self._receive(request, sink, budget)
        except BaseException:  # cancelled, or a bug: no body file may outlive it
            sink.path.unlink(missing_ok=True)
            raise
        if response is None:
            sink.path.unlink(missing_ok=True)
            return None, problem
        if sink.full:  # one body too big for the disk fails its URL, not the run
            sink.path.unlink(missing_ok=True)
            return None, ("disk-full", f"disk full at {sink.path.parent}: the body did not fit "
                                       f"(more than {sink.length} bytes)")
        self.stats.bytes += sink.length
        if "set-cookie" in response.headers:
            cookies.extract_cookies(response)
        truncated = sink.truncated
        if problem is not None and truncated is None:
            truncated = "time" if problem[0] == "timeout" else "disconnect"
        hop = Hop(
            url=str(url), method=method, request_headers=tuple(request.headers.raw),
            http_version=response.http_version, status=response.status_code,
            reason=response.reason_phrase, response_headers=_stored_headers(response.headers.raw),
            started_at=started_at, ip=_peer_ip(response), body_path=sink.path,
            body_length=sink.length, payload_digest=sink.digest, truncated=truncated,
        )  # fmt: skip
        return hop, problem

    async def _receive(
        self, request: httpx.Request, sink: _BodySink, budget: _Budget
    ) -> tuple[httpx.Response | None, Problem | None]:
        """Send ``request`` and stream the raw body into ``sink`` within the budget."""
        response: httpx.Response | None = None
        try:
            async with asyncio.timeout(max(budget.left, 0.0)):
                # Straight to the transport: the client's send() would add
                # cookie bookkeeping (a jar shared by all fetches) on every request.
                response = await self._transport.handle_async_request(request)
                response.request = request
                async for chunk in response.aiter_raw():
                    if not sink.write(chunk):
                        break
            return response, None
        except (TimeoutError, httpx.HTTPError, httpx.InvalidURL, ConnectFailure) as exc:
            return response, translate(exc, request.url.host, self.config)
        finally:
            sink.close()
            if response is not None:
                await response.aclose()

    async def _robots_allow(self, url: httpx.URL) -> bool:
        """Whether robots.txt of ``url``'s origin lets us fetch it (fetched once, shared)."""
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        task = self._robots.get(origin)
        if task is None:
            task = self._robots[origin] = asyncio.ensure_future(self._load_robots(origin))
        rules = await asyncio.shield(task)
        return rules is None or rules.can_fetch(str(url), self.config.user_agent)

    async def _load_robots(self, origin: str) -> Protego | None:
        """robots.txt through the same guards; missing or failing means "allow all"."""
        self.stats.robots_fetches += 1
        result = await self._attempt(origin + "/robots.txt", ROBOTS_MAX_BYTES, robots=False)
        try:
            final = result.final
            if not result.ok or final is None or final.status != 200 or final.body_path is None:
                return None
            return parse_robots(final.body_path.read_bytes(), final.header("content-encoding"))
        finally:
            result.cleanup()


def fetch_one(config: FetchConfig, url: str, temp_dir: Path) -> FetchResult:
    """Fetch one URL synchronously (its own event loop)."""

    async def run() -> FetchResult:
        async with Fetcher(config, temp_dir=temp_dir) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(run())
