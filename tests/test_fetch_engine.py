"""The fetch engine: concurrency limits, politeness, retries, robots.txt, fetch_many."""

from __future__ import annotations

import asyncio
import gzip
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from archiver.config import Config, FetchConfig
from archiver.capture.fetch import Fetcher
from archiver.models import FetchResult
from archiver.capture.politeness import RetryPolicy, fan_out, parse_retry_after

from .server import Sequence, TestServer, Tracker, drop_connection

FAST_RETRIES = RetryPolicy(base_delay=0.01, max_delay=0.05)
MakeServer = Callable[[], TestServer]


@pytest.fixture
def fetch_config(config: Config) -> FetchConfig:
    return config.fetch


def fetch_all(
    config: FetchConfig, urls: Iterable[str], tmp_path: Path, **options: object
) -> tuple[list[FetchResult], Fetcher]:
    """fetch_many over ``urls`` through a fresh Fetcher; the results and the fetcher."""

    async def go() -> tuple[list[FetchResult], Fetcher]:
        async with Fetcher(config, temp_dir=tmp_path / "tmp", **options) as fetcher:  # type: ignore[arg-type]
            return [result async for result in fetcher.fetch_many(urls)], fetcher

    return asyncio.run(go())


def fetch_once(
    config: FetchConfig, url: str, tmp_path: Path, *, retries: int | None = None
) -> tuple[FetchResult, Fetcher]:
    async def go() -> tuple[FetchResult, Fetcher]:
        async with Fetcher(config, temp_dir=tmp_path / "tmp", retry_policy=FAST_RETRIES) as fetcher:
            return await fetcher.fetch(url, retries=retries), fetcher

    return asyncio.run(go())


def tracked_hosts(make_server: MakeServer, tracker: Tracker, count: int) -> list[TestServer]:
    servers = [make_server() for _ in range(count)]
    for srv in servers:
        srv.route("*", handler=tracker)
    return servers


# --- concurrency and politeness ----------------------------------------------


def test_per_host_concurrency_is_respected(
    make_server: MakeServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    tracker = Tracker(hold=0.15)
    (srv,) = tracked_hosts(make_server, tracker, 1)
    config = replace(fetch_config, concurrency=10, per_host_concurrency=2)
    results, _ = fetch_all(config, [srv.url(f"/p{i}") for i in range(8)], tmp_path)
    assert all(r.ok for r in results) and len(results) == 8
    assert tracker.max_per_host[srv.host] == 2


def test_overall_concurrency_is_respected(
    make_server: MakeServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    tracker = Tracker(hold=0.1)
    servers = tracked_hosts(make_server, tracker, 4)
    config = replace(fetch_config, concurrency=3, per_host_concurrency=2)
    results, _ = fetch_all(config, [srv.url(f"/c{i}") for i in range(4) for srv in servers], tmp_path)
    assert len(results) == 16 and all(r.ok for r in results)
    assert tracker.max_in_flight == 3


def test_per_host_delay_spaces_request_starts(
    make_server: MakeServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    tracker = Tracker()
    first, second = tracked_hosts(make_server, tracker, 2)
    config = replace(fetch_config, per_host_delay=0.2, per_host_concurrency=2)
    urls = [srv.url(f"/d{i}") for i in range(4) for srv in (first, second)]
    started = time.monotonic()
    results, _ = fetch_all(config, urls, tmp_path)
    assert all(r.ok for r in results)
    for srv in (first, second):
        starts = tracker.starts[srv.host]
        gaps = [later - earlier for earlier, later in zip(starts, starts[1:])]
        # 0.2 s asked; the server sees each start a scheduler tick late or early on a loaded machine
        assert len(starts) == 4 and min(gaps) >= 0.12, gaps
    # the delay is per host: both hosts proceed side by side (about 3 gaps, not 7)
    assert time.monotonic() - started < 1.2


def test_fan_out_does_not_let_one_host_block_the_others() -> None:
    order: list[str] = []

    async def run(item: str) -> str:
        await asyncio.sleep(0.01)
        order.append(item)
        return item

    async def go() -> list[str]:
        items = [f"a{i}" for i in range(20)] + ["b0", "b1"]
        results = fan_out(items, run, key=lambda s: s[0], window=4, per_key=2, read_ahead=100, discard=lambda r: None)
        return [r async for r in results]

    results = asyncio.run(go())
    assert sorted(results) == sorted([f"a{i}" for i in range(20)] + ["b0", "b1"])
    assert {"b0", "b1"} <= set(order[:4])


def test_fetch_many_reads_its_input_lazily(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    server.route("/lazy", body=b"x")
    pulled = 0

    def urls() -> Iterator[str]:
        nonlocal pulled
        for _ in range(20_000):
            pulled += 1
            yield server.url("/lazy")

    async def go() -> int:
        async with Fetcher(replace(fetch_config, concurrency=4), temp_dir=tmp_path) as fetcher:
            fetcher.read_ahead = 50
            stream = fetcher.fetch_many(urls())
            first = await stream.__anext__()
            first.cleanup()
            seen = pulled
            await stream.aclose()
            return seen

    assert asyncio.run(go()) <= 50 + 8 + 1
    assert list(tmp_path.iterdir()) == []  # results not handed out were cleaned up


def test_fetch_many_200_urls_over_5_hosts(
    make_server: MakeServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    tracker = Tracker()
    servers = tracked_hosts(make_server, tracker, 5)
    urls = [servers[i % 5].url(f"/many/{i}") for i in range(200)]
    results, fetcher = fetch_all(replace(fetch_config, concurrency=8), urls, tmp_path)
    assert len(results) == 200 and sorted(r.url for r in results) == sorted(urls)
    assert all(r.ok and r.status == 200 for r in results)
    assert fetcher.stats.requests == 200 and fetcher.stats.bytes == 400


# --- keep-alive connections -------------------------------------------------------


class IdleClosingServer(socketserver.ThreadingTCPServer):
    """An HTTP/1.1 keep-alive server that closes a connection idle for ``idle`` seconds,
    as real servers do, and counts the connections it accepted."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, idle: float) -> None:
        self.idle, self.connections = idle, 0
        super().__init__(("127.0.0.1", 0), _KeepAliveHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _KeepAliveHandler(socketserver.BaseRequestHandler):
    server: IdleClosingServer

    def handle(self) -> None:
        self.server.connections += 1
        sock: socket.socket = self.request
        sock.settimeout(self.server.idle)
        pending = b""
        while True:
            try:
                while b"\r\n\r\n" not in pending:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return
                    pending += chunk
            except TimeoutError:
                return  # idle too long: close, the client learns it only when it looks
            pending = pending.split(b"\r\n\r\n", 1)[1]
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def idle_closing() -> Iterator[IdleClosingServer]:
    server = IdleClosingServer(idle=0.2)
    yield server
    server.shutdown()
    server.server_close()


def fetch_in_turn(config: FetchConfig, urls: list[str], tmp_path: Path, pause: float) -> list[FetchResult]:
    """Fetch ``urls`` one after another on one Fetcher (no retries), ``pause`` seconds apart."""

    async def go() -> list[FetchResult]:
        results = []
        async with Fetcher(config, temp_dir=tmp_path / "tmp") as fetcher:
            for url in urls:
                results.append(await fetcher.fetch(url, retries=0))
                await asyncio.sleep(pause)
        return results

    return asyncio.run(go())


def test_keep_alive_connection_is_reused(
    idle_closing: IdleClosingServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    results = fetch_in_turn(fetch_config, [idle_closing.url(f"/k/{n}") for n in range(5)], tmp_path, pause=0)
    assert [r.status for r in results] == [200] * 5
    assert idle_closing.connections == 1


def test_connection_the_server_closed_while_idle_is_not_reused(
    idle_closing: IdleClosingServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    """The server drops the idle connection between two requests; the second request
    must go out on a new connection, not fail on the dead one (no retries allowed)."""
    results = fetch_in_turn(fetch_config, [idle_closing.url(f"/i/{n}") for n in range(3)], tmp_path, pause=0.5)
    assert [(r.status, r.error, r.attempts) for r in results] == [(200, None, 1)] * 3
    assert idle_closing.connections == 3


# --- retries -------------------------------------------------------------------


def test_503_is_retried_until_success(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    url = server.route("/r/503-then-ok", handler=Sequence((503, {}), (503, {}), (200, {})))
    result, fetcher = fetch_once(fetch_config, url, tmp_path, retries=2)
    assert result.ok and result.status == 200 and result.attempts == 3
    assert fetcher.stats.retries == 2 and fetcher.stats.requests == 3
    assert len(list((tmp_path / "tmp").iterdir())) == 1  # discarded attempts cleaned up


def test_retries_give_up_with_the_last_answer(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    url = server.route("/r/always-502", handler=Sequence((502, {})))
    result, _ = fetch_once(fetch_config, url, tmp_path, retries=2)
    assert result.error is None and result.status == 502 and result.attempts == 3


def test_config_retries_is_the_default(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    url = server.route("/r/504", handler=Sequence((504, {})))
    result, _ = fetch_once(replace(fetch_config, retries=1), url, tmp_path)
    assert result.attempts == 2


def test_retry_after_is_honoured(server: TestServer, fetch_config: FetchConfig, tmp_path: Path) -> None:
    answers = Sequence((503, {"Retry-After": "1"}), (200, {}))
    result, _ = fetch_once(fetch_config, server.route("/r/retry-after", handler=answers), tmp_path, retries=1)
    assert result.ok and result.attempts == 2
    assert answers.times[1] - answers.times[0] >= 0.95


def test_429_with_retry_after_date(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    soon = format_datetime(datetime.now(timezone.utc) - timedelta(seconds=5), usegmt=True)  # already passed
    answers = Sequence((429, {"Retry-After": soon}), (200, {}))
    result, _ = fetch_once(fetch_config, server.route("/r/429", handler=answers), tmp_path, retries=1)
    assert result.ok and result.attempts == 2


def test_retry_after_beyond_the_cap_is_not_waited_for(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    answers = Sequence((503, {"Retry-After": "3600"}), (200, {}))
    started = time.monotonic()
    result, _ = fetch_once(fetch_config, server.route("/r/long-wait", handler=answers), tmp_path, retries=3)
    assert result.status == 503 and result.attempts == 1 and time.monotonic() - started < 1


def test_a_dropped_connection_is_retried(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    url = server.route("/r/flaky", handler=Sequence(drop_connection, (200, {})))
    result, _ = fetch_once(fetch_config, url, tmp_path, retries=1)
    assert result.ok and result.attempts == 2


def test_permanent_failures_are_not_retried(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    url = server.route("/r/gone", handler=Sequence((404, {})))
    assert fetch_once(fetch_config, url, tmp_path, retries=3)[0].attempts == 1
    assert fetch_once(fetch_config, "ftp://example.com/", tmp_path, retries=3)[0].attempts == 1


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 28, 4, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Sat, 28 Nov 2026 04:00:30 GMT", now) == 30.0
    assert parse_retry_after("Sat, 28 Nov 2026 03:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_backoff_grows_with_jitter() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    result = FetchResult(url="http://example.com/", error="connection")
    for attempt, (low, high) in enumerate([(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.0, 4.0)], 1):
        assert low <= (policy.delay(attempt, result) or 0) <= high
    assert policy.delay(1, FetchResult(url="http://example.com/", error="dns")) is None


# --- robots.txt ----------------------------------------------------------------------


ROBOTS = b"User-agent: *\nDisallow: /private\n"


def test_robots_disallow_is_respected_and_fetched_once(
    make_server: MakeServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    srv = make_server()
    srv.route("/robots.txt", body=ROBOTS, content_type="text/plain")
    srv.route("*", body=b"page")
    urls = [srv.url(f"/private/{i}") for i in range(3)] + [srv.url(f"/public/{i}") for i in range(3)]
    results, fetcher = fetch_all(replace(fetch_config, respect_robots=True), urls, tmp_path)
    by_url = {r.url: r for r in results}
    for i in range(3):
        blocked = by_url[srv.url(f"/private/{i}")]
        assert blocked.error == "robots" and blocked.hops == [] and "/private" in blocked.detail
        assert by_url[srv.url(f"/public/{i}")].ok
    assert srv.routes["/robots.txt"].hits == 1 and fetcher.stats.robots_fetches == 1


def test_robots_ignored_unless_respect_robots(
    make_server: MakeServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    srv = make_server()
    srv.route("/robots.txt", body=ROBOTS, content_type="text/plain")
    srv.route("*", body=b"page")
    results, _ = fetch_all(fetch_config, [srv.url("/private/page")], tmp_path)
    assert results[0].ok and srv.routes["/robots.txt"].hits == 0


def test_missing_or_broken_robots_allows_everything(
    make_server: MakeServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    missing, broken = make_server(), make_server()
    for srv in (missing, broken):
        srv.route("*", body=b"page")
    broken.route("/robots.txt", handler=drop_connection)
    urls = [missing.url("/private/a"), broken.url("/private/b")]
    results, _ = fetch_all(replace(fetch_config, respect_robots=True), urls, tmp_path)
    assert all(r.ok for r in results)


def test_gzipped_robots_and_redirect_hops_are_checked(
    make_server: MakeServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    start, target = make_server(), make_server()
    target.route("/robots.txt", body=gzip.compress(ROBOTS), headers={"Content-Encoding": "gzip"}, content_type="text/plain")
    target.route("*", body=b"page")
    start.route("/go", status=302, headers={"Location": target.url("/private/x")})
    results, _ = fetch_all(replace(fetch_config, respect_robots=True), [start.url("/go")], tmp_path)
    assert results[0].error == "robots" and [hop.status for hop in results[0].hops] == [302]
    assert target.routes["*"].hits == 0
