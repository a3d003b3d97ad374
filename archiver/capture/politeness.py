"""How the fetcher behaves towards hosts: slots, pauses, retries, robots.txt, scheduling.

No network I/O here; :mod:`archiver.capture.fetch` drives these pieces:

- :class:`HostGates` — at most ``per_host_concurrency`` requests to one host at a
  time, and request starts to one host at least ``per_host_delay`` apart.
- :class:`RetryPolicy` — which results are worth another attempt and how long
  to wait first (exponential backoff with jitter, or the server's
  ``Retry-After`` on 429/503 up to :data:`RETRY_AFTER_CAP`).
- :func:`parse_robots` — robots.txt bytes as sent -> a protego parser.
- :func:`fan_out` — run one coroutine per item with bounded concurrency, a
  per-host cap and a bounded read-ahead of the input; results as they complete.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from protego import Protego

from ..check.judge import parse_retry_after
from ..models import FetchResult

T = TypeVar("T")

# The longest Retry-After we wait for; a server asking for more gets no retry
# (waiting less than it asked would be impolite, waiting longer stalls a sweep).
RETRY_AFTER_CAP = 30.0
RETRY_BACKOFF_BASE = 0.5  # seconds before the first retry, doubled each time
RETRY_BACKOFF_MAX = 30.0
_BACKOFF_MAX_DOUBLINGS = 32  # 2**(attempt-1) beyond this overflows a float (attempt ~1000) and exceeds any cap
ROBOTS_MAX_BYTES = 500 * 1024  # what Google reads of a robots.txt


class _Gate:
    __slots__ = ("semaphore", "next_start", "users")

    def __init__(self, slots: int) -> None:
        self.semaphore = asyncio.Semaphore(slots)
        self.next_start = 0.0  # loop time before which no request may start
        self.users = 0


class HostGates:
    """Per-host concurrency and spacing; gates of idle hosts are forgotten."""

    def __init__(self, per_host: int, delay: float) -> None:
        self._per_host = per_host
        self._delay = delay
        self._gates: dict[str, _Gate] = {}

    def __len__(self) -> int:
        return len(self._gates)

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[_Gate]:
        """Hold one of ``host``'s request slots, starting no sooner than its delay allows.

        The caller may wait again (for an overall slot) before its request goes
        out: it then calls :meth:`started`, so the next request to the host is
        spaced from the real start, not from the reservation."""
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _Gate(self._per_host)
        gate.users += 1
        loop = asyncio.get_running_loop()
        try:
            async with gate.semaphore:
                if self._delay > 0:
                    now = loop.time()
                    start = max(now, gate.next_start)
                    gate.next_start = start + self._delay  # reserved before sleeping
                    if start > now:
                        await asyncio.sleep(start - now)
                yield gate
        finally:
            gate.users -= 1
            if gate.users == 0 and loop.time() >= gate.next_start:
                self._gates.pop(host, None)

    def started(self, gate: _Gate) -> None:
        """The request of a slot really starts now: space the host's next one from here."""
        if self._delay > 0:
            gate.next_start = max(gate.next_start, asyncio.get_running_loop().time() + self._delay)


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures are transient, and how long to wait before the next attempt.

    Retried: refused connections, broken connections, and answers
    429/502/503/504. Never retried: timeouts (a server that let a request hang
    for ``read_timeout`` would most likely do it again, and the link is checked
    again on a later run anyway), DNS failures, TLS errors, exclusions, and
    every other status. 429 and 503 honour ``Retry-After`` up to
    ``retry_after_cap``; a longer demand ends the retries. All attempts of one
    fetch share its ``total_timeout`` (see :mod:`archiver.capture.fetch`).
    """

    base_delay: float = RETRY_BACKOFF_BASE
    max_delay: float = RETRY_BACKOFF_MAX
    retry_after_cap: float = RETRY_AFTER_CAP
    statuses: frozenset[int] = field(default=frozenset({429, 502, 503, 504}))
    reasons: frozenset[str] = field(default=frozenset({"refused", "connection"}))

    def delay(self, attempt: int, result: FetchResult) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None: do not retry."""
        final = result.final
        if result.error is not None:
            if result.error not in self.reasons:
                return None
        elif final is None or final.status not in self.statuses:
            return None
        elif final.status in (429, 503):
            wait = parse_retry_after(final.header("retry-after"))
            if wait is not None:
                return wait if wait <= self.retry_after_cap else None
        backoff = min(self.max_delay, self.base_delay * 2 ** min(attempt - 1, _BACKOFF_MAX_DOUBLINGS))
        return backoff / 2 + random.uniform(0, backoff / 2)  # "equal jitter"


def parse_robots(body: bytes, content_encoding: str | None) -> Protego | None:
    """A robots.txt as sent -> parser, or None when it cannot be read (allow all)."""
    from ..check.extract import decode_body  # the home of Content-Encoding decoding; imported late (trafilatura)

    try:
        raw = decode_body(body, content_encoding, limit=ROBOTS_MAX_BYTES)
    except ValueError:  # unsupported or corrupt encoding
        return None
    return Protego.parse(raw.decode("utf-8", errors="replace"))


async def fan_out(
    items: Iterable[str],
    run: Callable[[str], Awaitable[T]],
    *,
    key: Callable[[str], str],
    window: int,
    per_key: int,
    read_ahead: int,
    discard: Callable[[T], None],
) -> AsyncGenerator[T, None]:
    """``run(item)`` for every item, results yielded as they complete.

    At most ``window`` tasks exist at once, at most ``per_key`` of them for
    one key (host), so a host with many items cannot fill the window while
    other hosts wait. When a task ends, its key's next item starts first, so a
    host's lane keeps its keep-alive connection busy. At most ``read_ahead`` items are taken from ``items``
    before they are started: memory stays bounded for any input length.
    When the consumer stops early, running tasks are cancelled and results not
    yet handed out are passed to ``discard``.
    """
    source = iter(items)
    queues: dict[str, deque[str]] = {}
    busy: dict[str, int] = {}
    ready: deque[str] = deque()  # keys with queued items and a free slot, each once
    running: dict[asyncio.Task[T], str] = {}
    unsent: list[asyncio.Task[T]] = []
    ready_set: set[str] = set()
    buffered = 0
    exhausted = False

    def mark(k: str, first: bool = False) -> None:
        if k not in queues or busy.get(k, 0) >= per_key:
            return
        if k in ready_set:
            if not first:
                return
            ready.remove(k)  # a host whose request just ended goes first: it has an idle connection
        ready.appendleft(k) if first else ready.append(k)
        ready_set.add(k)

    try:
        while True:
            while not exhausted and buffered < read_ahead:
                item = next(source, None)
                if item is None:
                    exhausted = True
                    break
                k = key(item)
                queues.setdefault(k, deque()).append(item)
                buffered += 1
                mark(k)
            while ready and len(running) < window:
                k = ready.popleft()
                ready_set.discard(k)
                queue = queues[k]
                item = queue.popleft()
                if not queue:
                    del queues[k]
                buffered -= 1
                busy[k] = busy.get(k, 0) + 1
                running[asyncio.ensure_future(run(item))] = k
                mark(k)
            if not running:
                return  # nothing running means nothing buffered and input exhausted
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                k = running.pop(task)
                busy[k] -= 1
                if not busy[k]:
                    del busy[k]
                mark(k, first=True)  # a host keeps its lane (and its open connection)
            unsent = list(done)
            while unsent:
                yield unsent.pop().result()
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for task in [*unsent, *running]:
            if task.done() and not task.cancelled() and task.exception() is None:
                discard(task.result())
