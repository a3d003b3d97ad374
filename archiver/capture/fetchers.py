"""Fetching in worker processes, for big captures.

One event loop runs out of CPU long before the network does (HTTP parsing,
hashing and writing bodies cost ~4 ms a page in Python). For a large capture
the URLs are split by host into one shard per core; each worker process runs
its own :class:`~archiver.capture.fetch.Fetcher` over its shard and sends the
:class:`~archiver.models.FetchResult` values back (the bodies stay in their
temporary files). A host lives in exactly one shard, so per-host politeness is
kept; the overall ``concurrency`` is divided between the workers. The parent
writes the WARCs and the database: still one writer per run.

Workers fork from a fork server that has already imported this module, so one
starts in milliseconds instead of the ~0.4 s a fresh interpreter needs to
import httpx and friends; ``warm_up`` starts that server early (a sweep does,
before collecting), so even its start-up is off the critical path. Unlike a
plain fork, the fork server shares nothing with the parent: no archive lock,
no database handle, no threads.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from urllib.parse import urlsplit

from ..config import FetchConfig
from ..errors import ArchiverError
from .fetch import Fetcher
from ..models import FetchResult

log = logging.getLogger(__name__)

# Below this many URLs a worker's start-up (~0.3 s) is not worth it.
PROCESS_THRESHOLD = 100


def worker_count(urls: int) -> int:
    """How many fetch processes a capture of ``urls`` URLs should use (0: fetch in-process)."""
    cores = os.cpu_count() or 1
    return 0 if urls < PROCESS_THRESHOLD or cores < 2 else cores


def _shards(urls: list[str], count: int) -> list[list[str]]:
    """Split ``urls`` into ``count`` shards of whole hosts, as even in URLs as possible.

    Each worker gets an equal share of the overall concurrency, so an uneven
    split would leave one worker finishing alone (greedy: largest hosts first,
    each to the shard with the fewest URLs so far)."""
    by_host: dict[str, list[str]] = {}
    for url in urls:
        by_host.setdefault(urlsplit(url).hostname or "", []).append(url)
    shards: list[list[str]] = [[] for _ in range(count)]
    for host_urls in sorted(by_host.values(), key=len, reverse=True):
        min(shards, key=len).extend(host_urls)
    return [shard for shard in shards if shard]


def _work(config: FetchConfig, urls: list[str], temp_dir: str, conn: Connection) -> None:
    """A worker: fetch ``urls``, send each result, then None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us

    async def run() -> None:
        async with Fetcher(config, temp_dir=Path(temp_dir)) as fetcher:
            async for result in fetcher.fetch_many(urls):
                try:
                    conn.send(result)
                except (BrokenPipeError, OSError):  # the parent is gone: stop
                    result.cleanup()
                    raise SystemExit(0) from None

    asyncio.run(run())
    conn.send(None)
    conn.close()


_forkserver_failed = False  # it could not start here (no Unix sockets, ...): spawn instead


def _context() -> ForkServerContext | SpawnContext:
    if _forkserver_failed or "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def warm_up() -> None:
    """Start the fork server in the background if fetch workers may be used (2+ cores).

    Never fails: a fork server that cannot start makes workers start by spawning."""
    global _forkserver_failed
    if not worker_count(PROCESS_THRESHOLD) or not isinstance(_context(), ForkServerContext):
        return
    try:
        forkserver.ensure_running()
    except Exception as exc:  # noqa: BLE001 - an optimisation only
        log.info("fetch workers will be spawned: the fork server did not start (%s)", exc)
        _forkserver_failed = True


def fetch_in_processes(config: FetchConfig, urls: list[str], temp_dir: Path, processes: int) -> Iterator[FetchResult]:
    """Yield the result of every URL, fetched by ``processes`` worker processes."""
    context = _context()
    shards = _shards(urls, processes)
    share = replace(config, concurrency=max(1, math.ceil(config.concurrency / len(shards))))
    workers: dict[Connection, BaseProcess] = {}
    try:
        for shard in shards:
            receiver, sender = context.Pipe(duplex=False)
            process: BaseProcess = context.Process(target=_work, args=(share, shard, str(temp_dir), sender), daemon=True)
            process.start()
            sender.close()
            workers[receiver] = process
        while workers:
            for conn in wait(list(workers)):
                assert isinstance(conn, Connection)
                try:
                    item = conn.recv()
                except EOFError:
                    dead = workers.pop(conn)
                    dead.join()
                    raise ArchiverError(f"a fetch worker process died (exit code {dead.exitcode})") from None
                if item is None:
                    workers.pop(conn).join()
                    continue
                yield item
    finally:
        for conn, process in workers.items():
            process.terminate()
            process.join()
            conn.close()
