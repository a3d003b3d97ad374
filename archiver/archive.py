"""An open archive: lock, store and WARC writer together, for the commands that write.

Opening an archive takes the lock (one writer at a time), opens or migrates the
database, and repairs any WARC file a killed run left ``.open``. Closing it
closes the WARC file and adds it to the CDXJ index next to the WARCs
(``warcs/index.cdxj``), which pywb can serve without re-indexing. ``save()``
writes a fetch to the WARCs first and commits its database rows only once the
bytes are flushed to disk, so the database never points at missing bytes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from . import __version__, warc
from .config import Config
from .lock import DEFAULT_WAIT, ArchiveLock
from .models import FetchResult, RecordLocation, RevisitOf
from .store import Store

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


class Archive:
    def __init__(self, config: Config, *, lock_wait: float = DEFAULT_WAIT, what: str = "archiver") -> None:
        self.config = config
        self.dir = config.archive.dir
        self.warc_dir = self.dir / WARC_DIR
        self._lock = ArchiveLock(self.dir, wait=lock_wait, what=what)
        self.store: Store
        self._writer: warc.WarcWriter | None = None
        self.repaired: list[Path] = []
        self.temp_dir: Path

    def __enter__(self) -> Archive:
        self._lock.acquire()
        try:
            self.store = Store.open(self.dir)
            self.warc_dir.mkdir(parents=True, exist_ok=True)
            for stale in self.dir.glob("fetch-*"):  # bodies in flight when a run was killed
                shutil.rmtree(stale, ignore_errors=True)
            self._drop_unrecorded()
            self.repaired = warc.repair(self.warc_dir)
            if self.repaired:
                self._update_index()
            self.temp_dir = Path(tempfile.mkdtemp(prefix="fetch-", dir=self.dir))
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
                self._update_index()
            self.store.close()
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        finally:
            self._lock.release()

    def _drop_unrecorded(self) -> None:
        """Cut a file left open by a killed run back to the last record the database knows.

        Records written but never recorded (the run died between the WARC and the
        database commit) are fetched again by this run: keeping them would store
        those captures twice. A file with no recorded record is emptied, and
        ``warc.repair`` then removes it.
        """
        for path in self.warc_dir.glob(f"*{warc.OPEN_SUFFIX}"):
            end = self.store.recorded_end(path.name[: -len(warc.OPEN_SUFFIX)])
            if path.stat().st_size > end:
                with open(path, "r+b") as handle:
                    handle.truncate(end)
                    handle.flush()
                    os.fsync(handle.fileno())

    def _update_index(self) -> None:
        from . import cdxj  # cdxj-indexer takes a third of a second to import

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
        return self.record(link_id, result, self.write(link_id, result, sync=True))

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
        locations = self.writer.write(result, revisit_of=plan.revisit_of, sync=sync)
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
