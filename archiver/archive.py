"""An open archive: lock, store and WARC writer together, for the commands that write.

Opening an archive takes the lock (one writer at a time), opens or migrates the
database, and repairs any WARC file a killed run left ``.open``. Closing it
closes the WARC file and adds it to the CDXJ index next to the WARCs
(``warcs/index.cdxj``), which pywb can serve without re-indexing. ``save()``
writes a fetch to the WARCs first and commits its database rows only once the
bytes are flushed to disk, so the database never points at missing bytes.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from . import __version__, warc
from .config import Config
from .lock import DEFAULT_WAIT, ArchiveLock
from .models import FetchResult, RevisitOf
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
        """Write ``result`` to the WARCs, then record it; a revisit when the payload is unchanged."""
        if not result.hops:
            return Saved(None, None, None, None)
        original = self._identical_original(link_id, result)
        revisit = None
        if original is not None:
            date = next(
                (r["date"] for r in self.store.records(original["id"]) if r["record_id"] == original["record_id"]),
                original["captured_at"],
            )
            revisit = RevisitOf(record_id=original["record_id"], target_uri=original["final_url"], date=date)
        locations = self.writer.write(result, revisit_of=revisit)
        refers_to = int(original["id"]) if original is not None else None
        capture_id = self.store.record_capture(link_id, result, locations, refers_to=refers_to)
        main = next((loc for loc in reversed(locations) if loc.record_type in ("response", "revisit")), None)
        return Saved(capture_id, main.warc if main else None, main.offset if main else None, refers_to)

    def _identical_original(self, link_id: int, result: FetchResult) -> dict | None:
        final = result.final
        if final is None or final.truncated or not final.payload_digest or not final.body_length:
            return None
        previous = self.store.last_response_capture(link_id)
        if previous and previous["payload_digest"] == final.payload_digest and previous["status"] == final.status:
            return previous
        return None
