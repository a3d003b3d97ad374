"""`archiver worker`: one of many processes sharing a PostgreSQL archive's work (SPEC §11).

Each worker loops: claim due work, fetch, write WARCs, record.

- **Claimed by host.** A worker leases a few hosts with due work at a time
  (``Store.claim_hosts``: ``FOR UPDATE SKIP LOCKED`` on the ``host_leases`` rows, so
  workers claiming at once never wait for each other), captures their new links and
  checks their due ones with the sweep's own code (``capture_links``, ``check_links``:
  per-host concurrency and delay as configured), then releases them. A host released
  is not claimed again before ``[fetch] per_host_delay`` has passed, so politeness holds
  across workers as within one.
- **Leases expire.** A heartbeat thread (its own database connection) renews the
  worker's leases every third of the lease time; a worker that dies stops renewing,
  and once its leases have expired another worker takes its hosts over. Every capture
  commits with its first check in one transaction, so a link is either done or still
  due: nothing is lost, nothing recorded twice.
- **Own WARC files.** A worker writes ``WORKER-<id>-....warc.gz`` files in the shared
  ``warcs/`` directory and records their offsets in the database; a closed file's
  records are merged into ``warcs/index.cdxj`` under the index's lock. The ``.open``
  files of a worker that died are recovered by the next worker that notices (records
  the database never recorded are set aside in ``warcs/orphaned/``, as after a killed
  sweep; their links are fetched again).
- **Rounds.** ``--once`` works until no due work is left (waiting for hosts another
  worker holds, or a dead worker's leases to expire), then stops; without it the
  worker polls for new due work every ``poll`` seconds, forever.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from . import __version__
from .capture import cdxj, warc
from .archive import Archive
from .config import Config
from .errors import UsageError
from .capture.snapshot import SnapshotOutcome, capture_links
from .check.states import due_cutoffs
from .archive.store import Store, parse_iso, utcnow

if TYPE_CHECKING:
    from .check.run import CheckOutcome

log = logging.getLogger(__name__)

FILE_PREFIX = "WORKER-"
HOSTS_EVERY = 30.0  # seconds between looks for new hosts while busy (Store.add_host_leases)
_WORKER_FILE = re.compile(r"^WORKER-(w[0-9a-f]+)-")


@dataclass(frozen=True)
class WorkerOptions:
    once: bool = False  # stop when no due work is left
    poll: float = 30.0  # seconds between looks for new due work (without --once)
    lease: float = 60.0  # seconds a claim lasts unless renewed
    hosts: int = 0  # hosts claimed at a time (0: [fetch] concurrency / per_host_concurrency)
    worker_id: str = ""  # "" : a new random id


@dataclass
class WorkerStats:
    captures: int = 0
    checks: int = 0
    claims: int = 0
    hosts: set[str] = field(default_factory=set)


def new_worker_id() -> str:
    return "w" + secrets.token_hex(4)


def require_postgres(config: Config) -> None:
    if not config.archive.database.startswith(("postgresql:", "postgres:")):
        raise UsageError("[archive] database: `archiver worker` shares a PostgreSQL archive "
                         "(database = \"postgresql://...\"); an SQLite archive has one writer: use `archiver sweep`")


class SharedArchive(Archive):
    """An archive shared with other workers: no archive lock, WARC files of its own."""

    def __init__(self, config: Config, worker_id: str) -> None:
        super().__init__(config, what=f"archiver worker {worker_id}")
        self.worker_id = worker_id

    def __enter__(self) -> SharedArchive:
        self.store = Store.open(self.dir, self.config.archive.database)
        try:
            self.warc_dir.mkdir(parents=True, exist_ok=True)
            self.temp_dir = Path(tempfile.mkdtemp(prefix=f"fetch-{FILE_PREFIX}{self.worker_id}-", dir=self.dir))
        except BaseException:
            self.store.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self._finish_writer(failed=exc_type is not None)
        finally:
            self.store.close()
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    LEFT_OPEN = "another worker finishes the WARC files left open"

    def _after_close(self) -> None:
        pass  # the writer indexed the files it closed; what others left is theirs to index

    def _recover_own(self) -> None:
        # what the database has not recorded is set aside; the rest closed and indexed
        self.recover_files(self.worker_id)

    @property
    def writer(self) -> warc.WarcWriter:
        if self._writer is None:
            self._writer = warc.WarcWriter(
                self.warc_dir, max_size=self.config.archive.warc_max_size, software=f"archiver/{__version__}",
                prefix=f"{FILE_PREFIX}{self.worker_id}",
                info={"http-header-user-agent": self.config.fetch.user_agent, "archiver-worker": self.worker_id},
            )
        return self._writer

    def recover_files(self, worker_id: str) -> int:
        """Finish the ``.open`` WARC files of a worker that is gone (or this one after a failure)."""
        prefix = f"{FILE_PREFIX}{worker_id}-"
        kept = warc.set_aside_unrecorded(self.warc_dir, self.store.recorded_end, prefix)
        for item in kept:
            log.warning("%s: kept %d record(s) worker %s wrote but never recorded in %s; their links are "
                        "fetched again", item.source, item.records, worker_id, item.path.relative_to(self.dir))
        repaired = warc.repair(self.warc_dir, prefix)
        if repaired:
            cdxj.update_index(self.warc_dir)
        for stale in self.dir.glob(f"fetch-{prefix}*"):  # its bodies in flight
            shutil.rmtree(stale, ignore_errors=True)
        return len(repaired)

    def recover_dead_workers(self, live: set[str]) -> list[str]:
        """Recover the files of every worker with ``.open`` files that is not in ``live``."""
        dead = sorted({m.group(1) for path in self.warc_dir.glob(f"{FILE_PREFIX}*.warc.gz{warc.OPEN_SUFFIX}")
                       if (m := _WORKER_FILE.match(path.name)) and m.group(1) not in live})
        if not dead:
            return []
        with _try_lock(self.warc_dir / "recover.lock") as locked:  # one recovering worker at a time
            if not locked:
                return []
            for worker_id in dead:
                self.recover_files(worker_id)
        return dead


@contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


class _Heartbeat(threading.Thread):
    """Renews the worker's heartbeat and leases every third of the lease, on its own connection."""

    def __init__(self, config: Config, worker_id: str, lease: float, stats: WorkerStats) -> None:
        super().__init__(name=f"archiver-heartbeat-{worker_id}", daemon=True)
        self.store = Store.open(config.archive.dir, config.archive.database)
        self.worker_id, self.lease, self.stats = worker_id, lease, stats
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.lease / 3):
                try:
                    now = utcnow()
                    self.store.beat(self.worker_id, now, now + timedelta(seconds=self.lease),
                                    captures=self.stats.captures, checks=self.stats.checks)
                except Exception as problem:  # noqa: BLE001 - the next beat tries again; leases expire meanwhile
                    log.warning("worker %s: heartbeat failed: %s", self.worker_id, problem)
        finally:
            self.store.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)


class _Stop(Exception):  # noqa: N818 - not an error: SIGTERM asks the worker to stop
    pass


def _stop_on_term(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def run_worker(config: Config, options: WorkerOptions, *, on_event: Any = None) -> WorkerStats:
    """Work until no due work is left (``options.once``) or forever; returns what this worker did."""
    require_postgres(config)
    worker_id = options.worker_id or new_worker_id()
    if not re.fullmatch(r"w[0-9a-f]{1,32}", worker_id):
        raise UsageError(f"--id: expected 'w' and hexadecimal digits, got {worker_id!r}")
    stats = WorkerStats()
    per_host = max(1, config.fetch.per_host_concurrency)
    claim = options.hosts or max(1, config.fetch.concurrency // per_host)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_term)
    say = on_event or (lambda message: log.info("%s", message))
    try:  # a stop leaves the archive as a failure does: what was written but not recorded is set aside
        with SharedArchive(config, worker_id) as archive:
            store = archive.store
            store.register_worker(worker_id, socket.gethostname(), os.getpid(), utcnow())
            heartbeat = _Heartbeat(config, worker_id, options.lease, stats)
            heartbeat.start()
            say(f"worker {worker_id} started (lease {options.lease:g}s, {claim} host(s) at a time)")
            try:
                _loop(archive, options, stats, claim, say)
            finally:
                heartbeat.stop()
                store.stop_worker(worker_id, utcnow())
    except _Stop:
        say(f"worker {worker_id} stopped (SIGTERM); its hosts are released")
    return stats


def _live_ids(store: Store, lease: float) -> set[str]:
    now = utcnow()
    live = set()
    for row in store.worker_rows():
        fresh = (now - parse_iso(row["last_beat"])).total_seconds() <= lease
        if row["stopped_at"] is None and fresh:
            live.add(str(row["id"]))
    return live


def _loop(archive: SharedArchive, options: WorkerOptions, stats: WorkerStats, claim: int, say: Any) -> None:
    config, store, worker_id = archive.config, archive.store, archive.worker_id
    attempted: set[int] = set()  # links this worker tried this round (a disk-full capture stays due)
    archive.recover_dead_workers(_live_ids(store, options.lease) | {worker_id})
    store.add_host_leases()
    hosts_added = time.monotonic()
    while True:
        if time.monotonic() - hosts_added > HOSTS_EVERY:  # hosts of links collected meanwhile
            store.add_host_leases()
            hosts_added = time.monotonic()
        now = utcnow()
        cutoffs = due_cutoffs(config.check, now)
        hosts = store.claim_hosts(worker_id, cutoffs, limit=claim, now=now,
                                  lease_until=now + timedelta(seconds=options.lease),
                                  released_before=now - timedelta(seconds=config.fetch.per_host_delay))
        if hosts:
            stats.claims += 1
            stats.hosts.update(hosts)
            try:
                new, due = store.work_on_hosts(hosts, cutoffs)
                new = [(link_id, url) for link_id, url in new if link_id not in attempted]
                due = [row for row in due if row["id"] not in attempted]
                attempted.update(link_id for link_id, _ in new)
                attempted.update(row["id"] for row in due)
                _work(archive, new, due, stats)
            finally:
                store.release_hosts(worker_id, hosts, utcnow())
            if new or due:
                continue
        store.add_host_leases()
        hosts_added = time.monotonic()
        left = [link_id for link_id in store.due_link_hosts(cutoffs) if link_id not in attempted]
        archive.recover_dead_workers(_live_ids(store, options.lease) | {worker_id})
        if left:  # on hosts another worker holds (or a dead one held until its lease expires)
            time.sleep(min(1.0, max(0.1, options.lease / 10)))
            continue
        if options.once:
            say(f"worker {worker_id}: no due work left ({stats.captures} captures, {stats.checks} checks)")
            return
        time.sleep(options.poll)
        attempted.clear()  # a new round: what was tried and is due again is tried again


def _work(archive: SharedArchive, new: list[tuple[int, str]], due: list[dict[str, Any]], stats: WorkerStats) -> None:
    if new:
        def captured(outcome: SnapshotOutcome) -> None:
            stats.captures += 1

        capture_links(archive, new, captured, keep=False)
    if due:
        from .check.run import check_links  # noqa: PLC0415 - slow to import; a round of new links needs none

        def checked(outcome: CheckOutcome) -> None:
            stats.checks += 1

        asyncio.run(check_links(archive, due, on_done=checked, keep=False))


# -- `archiver check` by hand on a shared archive ------------------------------------------------------


@contextmanager
def stepping_aside(config: Config, store: Store, hosts: set[str], *, lease: float = 60.0,
                   what: str = "check") -> Iterator[set[str]]:
    """Lease ``hosts`` as a worker would, for a run by hand (``archiver check``) on a PostgreSQL archive;
    yields the hosts leased: the others are held by a live worker, which the run must leave alone (its
    per-host limits would be broken). Registered as a worker (``archiver workers`` lists it) with a
    heartbeat renewing its leases; everything is released at the end. A host a worker released less
    than ``[fetch] per_host_delay`` ago is waited for once."""
    run_id = new_worker_id()
    store.register_worker(run_id, socket.gethostname(), os.getpid(), utcnow())
    stats = WorkerStats()
    heartbeat = _Heartbeat(config, run_id, lease, stats)
    heartbeat.start()
    try:
        got: set[str] = set()
        for attempt in range(2):
            now = utcnow()
            got.update(store.lease_hosts(run_id, hosts - got, now=now,
                                         lease_until=now + timedelta(seconds=lease),
                                         released_before=now - timedelta(seconds=config.fetch.per_host_delay)))
            if got == hosts or attempt:
                break
            time.sleep(min(config.fetch.per_host_delay, lease / 3))
        log.debug("archiver %s %s: leased %d of %d host(s)", what, run_id, len(got), len(hosts))
        yield got
    finally:
        heartbeat.stop()
        store.stop_worker(run_id, utcnow())


# -- `archiver workers` -------------------------------------------------------------------------------


def worker_table(config: Config, *, stale_after: float = 60.0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(workers, stale leases): every worker not stopped or holding a lease, with its state, and
    the leases past their expiry (their worker died; another takes the host over)."""
    require_postgres(config)
    now = utcnow()
    with Store.open(config.archive.dir, config.archive.database) as store:
        rows = store.worker_rows()
        stale = store.stale_leases(now)
    out = []
    for row in rows:
        beat = parse_iso(row["last_beat"])
        minutes = max((beat - parse_iso(row["started_at"])).total_seconds() / 60, 1 / 60)
        silent = (now - beat).total_seconds()
        out.append({
            "id": row["id"], "machine": row["machine"], "pid": row["pid"], "leases": int(row["leases"] or 0),
            "last_beat": row["last_beat"], "seconds_since_beat": round(silent, 1),
            "alive": row["stopped_at"] is None and silent <= stale_after,
            "captures": int(row["captures"]), "checks": int(row["checks"]),
            "captures_per_minute": round((int(row["captures"]) + int(row["checks"])) / minutes, 1),
        })
    return out, stale
