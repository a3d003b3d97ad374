"""An open archive: lock, store and WARC writer together, for the commands that write.

Opening an archive takes the lock (one writer at a time), opens or migrates the
database, and recovers the WARC files a killed run left ``.open``: records the
database never recorded are moved to ``warcs/orphaned/`` (kept, never deleted,
and said so on stderr; their links are fetched again), the rest is closed and
indexed. Closing it closes the WARC file and adds it to the CDXJ index next to
the WARCs (``warcs/index.cdxj``), which pywb can serve without re-indexing; after
a failure it recovers the files as the next run would. ``save()`` writes a fetch
to the WARCs first and commits its database rows only once the bytes are flushed
to disk, so the database never points at missing bytes; if the commit fails, the
records are cut away again. A WARC file is closed only once the database has
recorded every record in it (group commit holds rotated files ``.open`` until
then), so a closed file never holds a record the database does not know.
"""

from __future__ import annotations

import errno
import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .. import __version__
from ..capture import warc
from ..config import Config
from ..errors import ArchiverError, DiskFull
from .lock import DEFAULT_WAIT, ArchiveLock
from ..models import FetchResult, RecordLocation, RevisitOf
from .store import Store

log = logging.getLogger(__name__)

WARC_DIR = "warcs"
REPORT_DIR = "reports"


@dataclass(frozen=True)
class Saved:
    """What ``Archive.save`` stored for one fetch."""

    capture_id: int | None  # None when nothing was received (dns, refused, ...)
    warc: str | None
    offset: int | None
    revisit_of: int | None  # capture id of the identical earlier payload


@dataclass(frozen=True)
class Plan:
    """How a fetch will be written: as a revisit of an earlier capture, or in full."""

    revisit_of: RevisitOf | None
    refers_to: int | None


@dataclass(frozen=True)
class Written:
    """WARC records of one fetch, not yet recorded in the store."""

    locations: list[RecordLocation]
    refers_to: int | None  # capture id of the identical earlier payload
    problem: str | None = None  # why nothing was written (a full disk), if so


class Archive:
    def __init__(self, config: Config, *, lock_wait: float = DEFAULT_WAIT, what: str = "archiver") -> None:
        self.config = config
        self.dir = config.archive.dir
        self.warc_dir = self.dir / WARC_DIR
        self._lock = ArchiveLock(self.dir, wait=lock_wait, what=what)
        self.store: Store
        self._writer: warc.WarcWriter | None = None
        self.repaired: list[Path] = []
        self.orphaned: list[warc.SetAside] = []
        self.temp_dir: Path

    def __enter__(self) -> Archive:
        self._lock.acquire()
        try:
            self.store = Store.open(self.dir, self.config.archive.database)
            self.warc_dir.mkdir(parents=True, exist_ok=True)
            for stale in self.dir.glob("fetch-*"):  # bodies in flight when a run was killed
                if not stale.name.startswith("fetch-WORKER-"):  # a live worker's (archiver.worker recovers them)
                    shutil.rmtree(stale, ignore_errors=True)
            self._recover()
            self.temp_dir = Path(tempfile.mkdtemp(prefix="fetch-", dir=self.dir))
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self._finish_writer(failed=exc_type is not None)
            self.store.close()
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        finally:
            self._lock.release()

    # who finishes the WARC files a failed run's recovery could not (archiver.worker: another worker)
    LEFT_OPEN = "the next run finishes the WARC files left open"

    def _finish_writer(self, *, failed: bool) -> None:
        """Close the writer after a clean run; after a failure, when the database may not have recorded
        everything written, abandon it and recover its files as the next run would."""
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        if not failed:
            writer.close()
            self._after_close()
            return
        writer.abandon()
        try:
            self._recover_own()
        except Exception as problem:  # noqa: BLE001 - the run's own error is the one to report
            log.warning("%s; %s", problem, self.LEFT_OPEN)

    def _after_close(self) -> None:
        self._update_index()

    def _recover_own(self) -> None:
        self._recover()

    def _recover(self) -> None:
        """Finish the WARC files a killed or failed run left ``.open``.

        Records written but never recorded (the run died between the WARC and the
        database commit, or the database was emptied or replaced) are moved to
        ``warcs/orphaned/``: this run fetches those links again, so keeping them in
        the archive would store the captures twice, but the bytes may be the only
        copy, so they are never deleted. Then ``warc.repair`` closes what is left
        and the index is brought up to date.
        """
        # on a PostgreSQL archive, workers' files (``WORKER-<id>-...``, archiver.worker) are theirs to recover
        prefix = "ARCHIVER-" if self.config.archive.database else ""
        try:
            kept = warc.set_aside_unrecorded(self.warc_dir, self.store.recorded_end, prefix)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise DiskFull(self.warc_dir, "cannot set aside the unrecorded WARC records of an interrupted "
                                              "run; free some space and run again") from None
            raise ArchiverError(f"{self.warc_dir}: cannot recover the WARC files of an interrupted run: "
                                f"{exc}") from None
        for item in kept:
            where = item.path.relative_to(self.dir)
            if item.whole_file:
                log.warning("%s: the database knows none of its %d record(s) (an interrupted run wrote them "
                            "before recording any, or the database was emptied or replaced); kept them, closed, "
                            "in %s; links without a capture are fetched again", item.source, item.records, where)
            else:
                log.warning("%s: kept %d record(s) written after the last database commit of an interrupted "
                            "run in %s; their links are fetched again", item.source, item.records, where)
        self.orphaned += kept
        repaired = warc.repair(self.warc_dir, prefix)
        self.repaired += repaired
        if repaired:
            self._update_index()

    def _update_index(self) -> None:
        from ..capture import cdxj  # cdxj-indexer takes a third of a second to import

        cdxj.update_index(self.warc_dir)

    @property
    def writer(self) -> warc.WarcWriter:
        if self._writer is None:
            self._writer = warc.WarcWriter(
                self.warc_dir,
                max_size=self.config.archive.warc_max_size,
                software=f"archiver/{__version__}",
                info={"http-header-user-agent": self.config.fetch.user_agent},
            )
        return self._writer

    def save(self, link_id: int, result: FetchResult) -> Saved:
        """Write ``result`` to the WARCs (synced to disk), then record it."""
        with self.saving(link_id, result) as saved:
            return saved

    @contextmanager
    def saving(self, link_id: int, result: FetchResult) -> Iterator[Saved]:
        """Write ``result`` to the WARCs (synced), record it, and run the block in the same transaction.

        What the block writes to the store (the link's first check, ...) commits with
        the capture or not at all; if the block or the commit fails, the WARC records
        are cut away again, so none stays unrecorded. A full disk raises ``DiskFull``
        with nothing stored.
        """
        written = self.write(link_id, result, sync=True)
        try:
            with self.store.atomic():
                yield self.record(link_id, result, written)
        except BaseException:
            if written.locations and self._writer is not None:
                self._writer.discard_last()
            raise

    def write(self, link_id: int, result: FetchResult, *, sync: bool) -> Written:
        """Write ``result`` to the WARCs; a revisit record when the payload is unchanged.

        With ``sync=False`` the bytes are not on disk yet: call ``writer.sync()``
        before :meth:`record` (group commit: one fsync for many captures).
        """
        return self.write_planned(result, self.plan(link_id, result), sync=sync)

    def plan(self, link_id: int, result: FetchResult) -> Plan:
        """Database half of a write: is this payload a revisit of an earlier capture?"""
        original = self._identical_original(link_id, result) if result.hops else None
        if original is None:
            return Plan(None, None)
        date = next(
            (r["date"] for r in self.store.records(original["id"]) if r["record_id"] == original["record_id"]),
            original["captured_at"],
        )
        revisit = RevisitOf(record_id=original["record_id"], target_uri=original["final_url"], date=date)
        return Plan(revisit, int(original["id"]))

    def write_planned(self, result: FetchResult, plan: Plan, *, sync: bool) -> Written:
        """WARC half of a write; touches no database, so it may run on a writer thread."""
        if not result.hops:
            return Written([], None)
        try:
            locations = self.writer.write(result, revisit_of=plan.revisit_of, sync=sync)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            size = sum(hop.body_length for hop in result.hops)
            raise DiskFull(self.warc_dir, f"{result.url} not stored ({size} bytes)") from None
        return Written(locations, plan.refers_to)

    def record(self, link_id: int, result: FetchResult, written: Written) -> Saved:
        """Record a capture whose WARC records are on disk."""
        if not written.locations:
            return Saved(None, None, None, None)
        capture_id = self.store.record_capture(link_id, result, written.locations, refers_to=written.refers_to)
        main = next((loc for loc in reversed(written.locations) if loc.record_type in ("response", "revisit")), None)
        return Saved(capture_id, main.warc if main else None, main.offset if main else None, written.refers_to)

    def _identical_original(self, link_id: int, result: FetchResult) -> dict | None:
        final = result.final
        if final is None or final.truncated or not final.payload_digest or not final.body_length:
            return None
        previous = self.store.last_response_capture(link_id)
        if previous and previous["payload_digest"] == final.payload_digest and previous["status"] == final.status:
            return previous
        return None
