"""The archive database: the only module that writes SQL (SPEC §6).

SQLite at ``<archive.dir>/archive.db`` through sqlite-utils, WAL mode. The
schema is versioned with ``PRAGMA user_version`` and migrated forward when the
store is opened; each migration is a function in ``MIGRATIONS``.

Or PostgreSQL (``[archive] database = "postgresql://..."``, SPEC §11): the same
statements, schema and migrations, rewritten for it by ``archiver.archive.backend`` (the
version in a ``schema_version`` table). Write SQL both understand: ``?``
placeholders, ``INSERT ... ON CONFLICT``, no SQLite-only functions; new ids come
from ``_insert``.

Tables (browse them with any SQLite tool):

    links       one row per normalized URL: its state, reason, failure count
    citations   where each link was cited (source, body or comment N, context)
    sources     articles, files and feeds collected from
    captures    one row per fetch written to the WARCs (cited copy, checks)
    records     every WARC record of a capture: file, offset, length
    texts       main text extracted from a payload, keyed by payload digest
    checks      every check of a link: verdict, reason, evidence capture
    sweeps      one row per sweep with its summary and its place in the state log
    state_changes  every state a link entered (written by triggers, whoever changes it)
    alternatives  other web archives' mementos of dead and changed links (Memento lookups)
    submissions   newly cited URLs sent to the Internet Archive's Save Page Now
    decisions   a reviewer's decisions on links and hosts (SPEC §9), undone ones kept
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlite_utils

from .backend import PgDatabase
from ..errors import DiskFull, StoreError
from ..models import FetchResult, RecordLocation, State

DB_NAME = "archive.db"
IGNORED = "ignored"  # the reason of a link a reviewer ignores (state excluded)


_KEYED_BY_NAME = frozenset({"sources", "texts", "workers", "host_leases"})  # no integer ``id`` column


def _safe_url(url: str) -> str:
    """A database URL fit to print: without its password."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2026-11-28T03:12:09Z`` (UTC, second precision)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(moment: datetime) -> str:
    """``2026-11-28T03:12:09.123Z`` (UTC, millisecond precision; sorts as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- schema --------------------------------------------------------------------

_V1 = """
CREATE TABLE links (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,           -- normalized (SPEC §7)
    url_as_cited TEXT NOT NULL,         -- first spelling seen
    host TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    reason TEXT,
    state_since TEXT,
    first_seen TEXT NOT NULL,
    last_checked TEXT,
    next_check TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    first_failure_at TEXT,
    http_status INTEGER,
    final_url TEXT,
    similarity REAL,
    cited_capture_id INTEGER,
    latest_capture_id INTEGER,
    last_check_id INTEGER
);
CREATE INDEX links_state ON links(state);
CREATE INDEX links_next_check ON links(next_check);

CREATE TABLE sources (
    source TEXT PRIMARY KEY,            -- article URL or file path
    kind TEXT NOT NULL,                 -- url | feed | path | file
    name TEXT,
    title TEXT,
    first_collected TEXT NOT NULL,
    last_collected TEXT NOT NULL
);

CREATE TABLE citations (
    id INTEGER PRIMARY KEY,
    link_id INTEGER NOT NULL REFERENCES links(id),
    source TEXT NOT NULL,
    place TEXT NOT NULL,                -- body | comment
    comment INTEGER,
    comment_author TEXT,
    comment_date TEXT,
    anchor TEXT,
    context TEXT,
    url_as_written TEXT NOT NULL,
    position INTEGER,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    removed_at TEXT,
    UNIQUE (link_id, source, place, comment, url_as_written)
);
CREATE INDEX citations_source ON citations(source);

CREATE TABLE captures (
    id INTEGER PRIMARY KEY,
    link_id INTEGER NOT NULL REFERENCES links(id),
    url TEXT NOT NULL,                  -- as requested
    final_url TEXT,
    captured_at TEXT NOT NULL,
    status INTEGER,                     -- final HTTP status
    content_type TEXT,
    payload_digest TEXT,
    kind TEXT NOT NULL,                 -- response | revisit | failed
    warc TEXT,                          -- final record (response or revisit)
    offset INTEGER,
    length INTEGER,
    record_id TEXT,
    refers_to INTEGER REFERENCES captures(id),   -- original capture of a revisit
    ip TEXT,
    bytes INTEGER NOT NULL DEFAULT 0,
    truncated TEXT,
    error TEXT,
    detail TEXT,
    hops INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX captures_link ON captures(link_id);

CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    capture_id INTEGER NOT NULL REFERENCES captures(id),
    hop INTEGER NOT NULL,
    record_type TEXT NOT NULL,
    url TEXT NOT NULL,
    warc TEXT NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    record_id TEXT NOT NULL,
    date TEXT NOT NULL,
    status INTEGER
);
CREATE INDEX records_capture ON records(capture_id);

CREATE TABLE texts (
    payload_digest TEXT PRIMARY KEY,
    title TEXT,
    text TEXT NOT NULL,
    fingerprint TEXT
);

CREATE TABLE checks (
    id INTEGER PRIMARY KEY,
    link_id INTEGER NOT NULL REFERENCES links(id),
    checked_at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reason TEXT,
    http_status INTEGER,
    final_url TEXT,
    similarity REAL,
    capture_id INTEGER REFERENCES captures(id),
    state TEXT NOT NULL,                -- the link's state after this check
    detail TEXT
);
CREATE INDEX checks_link ON checks(link_id);

CREATE TABLE sweeps (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    summary TEXT                        -- JSON
);
"""


def _run_ddl(db: sqlite_utils.Database, ddl: str) -> None:
    """Run statements one by one (executescript would commit the open transaction)."""
    for statement in ddl.split(";\n"):
        if statement.strip():
            db.execute(statement)


def _migrate_v1(db: sqlite_utils.Database) -> None:
    _run_ddl(db, _V1)


_DECISIONS = """
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    link_id INTEGER REFERENCES links(id),   -- NULL for a host-wide decision
    host TEXT,                              -- the host of a host-wide ignore
    decision TEXT NOT NULL,                 -- accept | false-alarm | ignore | note
    note TEXT,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    verdict TEXT,                           -- accept, false-alarm: the verdict decided on ...
    reason TEXT,
    judged_capture_id INTEGER REFERENCES captures(id),   -- ... and the capture it was judged on
    judged_digest TEXT,
    before TEXT,                            -- JSON {link id: link columns before}: what undo restores
    ended_at TEXT,                          -- accept, false-alarm: the page changed again then
    undone_at TEXT,
    undone_by TEXT
);
CREATE INDEX decisions_link ON decisions(link_id);
CREATE INDEX decisions_host ON decisions(host)
"""


def _migrate_decisions(db: sqlite_utils.Database) -> None:
    _run_ddl(db, _DECISIONS)


_EXTERNAL = """
CREATE TABLE alternatives (
    id INTEGER PRIMARY KEY,
    link_id INTEGER NOT NULL REFERENCES links(id),
    archive TEXT NOT NULL,              -- the TimeGate prefix asked ([external] archives)
    state TEXT NOT NULL,                -- the link's state the lookup was made for ...
    state_since TEXT,                   -- ... and since when: one lookup per link per state change
    looked_up_at TEXT NOT NULL,
    asked_for TEXT NOT NULL,            -- the citation date sent as Accept-Datetime
    outcome TEXT NOT NULL,              -- found | none | error (an error is asked again next time)
    memento_url TEXT,                   -- the memento closest to the citation date
    memento_datetime TEXT,
    first_url TEXT,                     -- the TimeMap's first and last mementos
    first_datetime TEXT,
    last_url TEXT,
    last_datetime TEXT,
    note TEXT,
    warc TEXT,                          -- the TimeGate's answer in the WARCs (evidence)
    offset INTEGER,
    length INTEGER
);
CREATE INDEX alternatives_link ON alternatives(link_id);

CREATE TABLE submissions (
    id INTEGER PRIMARY KEY,
    link_id INTEGER NOT NULL REFERENCES links(id),
    url TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    job_id TEXT,                        -- Save Page Now's job
    status TEXT NOT NULL,               -- pending | success | error
    memento_url TEXT,
    memento_datetime TEXT,
    message TEXT,
    finished_at TEXT
);
CREATE INDEX submissions_link ON submissions(link_id)
"""


def _migrate_external(db: sqlite_utils.Database) -> None:
    _run_ddl(db, _EXTERNAL)


_STATE_HISTORY = """
CREATE TABLE state_changes (
    id INTEGER PRIMARY KEY,             -- increasing: a sweep remembers the last id it saw
    link_id INTEGER NOT NULL,
    state TEXT NOT NULL,                -- the link's state from then on
    at TEXT NOT NULL
);
CREATE INDEX state_changes_link ON state_changes(link_id, id);
CREATE INDEX links_state_checked ON links(state, last_checked);
DROP INDEX links_next_check;
UPDATE links SET next_check = NULL;
ALTER TABLE sweeps ADD COLUMN states_before INTEGER;
ALTER TABLE sweeps ADD COLUMN states_after INTEGER;
ALTER TABLE captures ADD COLUMN damaged TEXT;
DELETE FROM texts WHERE text = '' AND fingerprint IS NULL
"""

# Every state a link enters is logged by the database itself, whoever writes it
# (a check, a first capture, a reviewer's decision). ``at`` is the link's new
# ``state_since`` when the writer set one, else the database's clock.
_STATE_TRIGGERS = (
    "CREATE TRIGGER links_state_new AFTER INSERT ON links BEGIN "
    "INSERT INTO state_changes (link_id, state, at) VALUES (NEW.id, NEW.state, "
    "coalesce(NEW.state_since, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))); END",
    "CREATE TRIGGER links_state_changed AFTER UPDATE OF state ON links WHEN OLD.state IS NOT NEW.state BEGIN "
    "INSERT INTO state_changes (link_id, state, at) VALUES (NEW.id, NEW.state, "
    "CASE WHEN NEW.state_since IS NOT OLD.state_since AND NEW.state_since IS NOT NULL THEN NEW.state_since "
    "ELSE strftime('%Y-%m-%dT%H:%M:%SZ', 'now') END); END",
)


def _migrate_state_history(db: sqlite_utils.Database) -> None:
    """The state log and sweep marks (changes since the previous sweep), "due" derived from the last
    check and the current config (``next_check`` is no longer written), damaged captures, and the
    removal of the empty stand-in texts an identical-payload check used to store over cited texts.

    An existing archive's history is rebuilt from its checks; each finished sweep's marks from time."""
    _run_ddl(db, _STATE_HISTORY)
    db.execute(
        "INSERT INTO state_changes (link_id, state, at) SELECT link_id, state, at FROM ("
        "SELECT id AS link_id, 'pending' AS state, first_seen AS at, 0 AS k, id AS n FROM links UNION ALL "
        "SELECT link_id, state, checked_at, 1, id FROM checks) AS history ORDER BY at, k, n"
    )
    db.execute("UPDATE sweeps SET states_before = (SELECT max(id) FROM state_changes WHERE at < started_at)")
    db.execute("UPDATE sweeps SET states_after = (SELECT max(id) FROM state_changes WHERE at <= finished_at) "
               "WHERE finished_at IS NOT NULL")
    # a state no check explains (none yet: reviewers' decisions arrive with this version) comes last
    db.execute(
        "INSERT INTO state_changes (link_id, state, at) SELECT l.id, l.state, coalesce(l.state_since, l.first_seen) "
        "FROM links l WHERE l.state IS NOT (SELECT s.state FROM state_changes s WHERE s.link_id = l.id "
        "ORDER BY s.id DESC LIMIT 1)"
    )
    for trigger in _STATE_TRIGGERS:
        db.execute(trigger)


def _migrate_comment_provenance(db: sqlite_utils.Database) -> None:
    """A comment's kind (comment, pingback, answer ...), its label on a Q&A page ("comment on
    answer 2"), the number of the comment it replies to, and its permalink."""
    for column in ("comment_kind TEXT", "comment_label TEXT", "comment_parent INTEGER", "comment_permalink TEXT"):
        db.execute(f"ALTER TABLE citations ADD COLUMN {column}")


def _migrate_text_sketch(db: sqlite_utils.Database) -> None:
    """A stored main text's sketch (archiver.check.prefilter): what a check needs to recognise a page whose
    main text is the same without extracting it. NULL: not computed yet; '': the page has none."""
    db.execute("ALTER TABLE texts ADD COLUMN sketch TEXT")


_WORKERS = """
CREATE TABLE workers (
    id TEXT PRIMARY KEY,                -- the worker's id, in its WARC files' names
    machine TEXT NOT NULL,
    pid INTEGER,
    started_at TEXT NOT NULL,
    last_beat TEXT NOT NULL,            -- renewed while it works; a worker silent past its lease is gone
    stopped_at TEXT,
    captures INTEGER NOT NULL DEFAULT 0,
    checks INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE host_leases (
    host TEXT PRIMARY KEY,              -- work is claimed by host: politeness holds across workers
    worker TEXT,                        -- NULL: free
    expires_at TEXT,                    -- renewed while the worker works; past it, another may take the host
    claimed_at TEXT,
    released_at TEXT                    -- the host is not claimed again before [fetch] per_host_delay after
);
CREATE INDEX host_leases_worker ON host_leases(worker);
CREATE INDEX links_host ON links(host)
"""


def _migrate_workers(db: sqlite_utils.Database) -> None:
    """`archiver worker` (SPEC §11): workers' heartbeats and their leases on hosts."""
    _run_ddl(db, _WORKERS)


def _migrate_checked_order(db: sqlite_utils.Database) -> None:
    """Links in the order a check run reads its due links a page at a time (``Store.iter_due_links``):
    never checked (by id), then by last check. Each page is then a range of this index, not a scan
    and sort of every link."""
    _run_ddl(db, "CREATE INDEX links_checked_order ON links(last_checked, id)")


MIGRATIONS: list[Callable[[Any], None]] = [_migrate_v1, _migrate_decisions, _migrate_external, _migrate_state_history, _migrate_comment_provenance, _migrate_text_sketch, _migrate_workers, _migrate_checked_order]
SCHEMA_VERSION = len(MIGRATIONS)


# --- values --------------------------------------------------------------------


@dataclass(frozen=True)
class CitationInput:
    """One citation to record (the collector's RawLink after normalization)."""

    url: str  # normalized
    url_as_written: str
    source: str
    place: str  # body | comment
    comment: int | None = None
    comment_author: str | None = None
    comment_date: str | None = None
    anchor: str | None = None
    context: str | None = None
    position: int | None = None
    comment_kind: str | None = None  # comment, pingback, trackback, answer
    comment_label: str | None = None  # "answer 2", "comment on answer 2" (Q&A pages)
    comment_parent: int | None = None  # the comment this one replies to
    comment_permalink: str | None = None


class Store:
    """Domain questions and answers over the archive database."""

    def __init__(self, path: Path, database: str = "") -> None:
        self.path = path
        self.db: sqlite_utils.Database | PgDatabase
        self.postgres = database.startswith(("postgresql:", "postgres:"))
        if self.postgres:
            self.where = _safe_url(database)
            self._open_postgres(database)
            return
        self.where = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # one thread at a time, but not always the one that opened it: a sweep
            # saves captures on a worker thread while its event loop fetches
            self.db = sqlite_utils.Database(sqlite3.connect(str(path), check_same_thread=False))
            self.db.execute("PRAGMA busy_timeout=30000")
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the archive database: {exc}") from None
        self._migrate()

    def _open_postgres(self, database: str) -> None:
        try:
            import psycopg  # noqa: PLC0415 - only a PostgreSQL archive needs it
        except ImportError:
            raise StoreError("[archive] database is a PostgreSQL URL, but psycopg is not installed "
                             "(pip install 'psycopg[binary]')") from None
        try:
            self.db = PgDatabase(database)
            with self.db.atomic():  # many workers may start at once: one migrates, the others wait
                self.db.execute("SELECT pg_advisory_xact_lock(7243510)")
                self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                if self.db.execute("SELECT count(*) FROM schema_version").fetchone()[0] == 0:
                    self.db.execute("INSERT INTO schema_version (version) VALUES (0)")
                self._migrate()
        except psycopg.Error as exc:
            raise StoreError(f"{self.where}: cannot open the archive database: "
                             f"{str(exc).strip() or type(exc).__name__}") from None

    @classmethod
    def open(cls, archive_dir: Path, database: str = "") -> Store:
        """The archive's database: ``archive.db`` in ``archive_dir``, or ``database`` when it is
        a ``postgresql://`` URL ([archive] database, SPEC §11)."""
        return cls(archive_dir / DB_NAME, database)

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema

    @property
    def version(self) -> int:
        if self.postgres:
            return int(self.db.execute("SELECT max(version) FROM schema_version").fetchone()[0])
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.where}: database schema version {current} is newer than this archiver "
                f"understands ({SCHEMA_VERSION}); upgrade archiver"
            )
        for number in range(current, SCHEMA_VERSION):
            with self.atomic():
                MIGRATIONS[number](self.db)
                if self.postgres:
                    self.db.execute("UPDATE schema_version SET version = ?", [number + 1])
                else:
                    self.db.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction; nested blocks become savepoints. A full disk raises ``DiskFull``."""
        try:
            with self.db.atomic():
                yield
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL:
                raise
            raise DiskFull(self.path.parent, f"the database could not grow ({exc})") from exc

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> Iterator[dict[str, Any]]:
        """Rows as dicts, straight from the connection: sqlite-utils' ``query()``
        wraps each statement in a savepoint, three statements for one."""
        cursor = self.db.conn.execute(sql, tuple(params))
        keys = [column[0] for column in cursor.description]
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    def _rows_in(self, sql: str, values: Iterable[Any]) -> Iterator[dict[str, Any]]:
        """``sql`` once per chunk of the distinct ``values``, its ``(?...)`` made one
        placeholder per value (SQLite caps the parameters of a statement)."""
        wanted = sorted(set(values))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            yield from self._rows(sql.replace("(?...)", f"({','.join('?' * len(chunk))})"), chunk)

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        return next(self._rows(sql, params), None)

    # sqlite-utils' table.insert() introspects the table on every call; these run
    # once per capture or check, so they are plain statements.

    def _insert(self, table: str, values: dict[str, Any]) -> int:
        columns = ", ".join(values)
        marks = ", ".join("?" * len(values))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        if self.postgres:  # no lastrowid: the new id is returned (tables keyed by something else return nothing)
            if table in _KEYED_BY_NAME:
                self.db.execute(sql, list(values.values()))
                return 0
            return int(self.db.execute(sql + " RETURNING id", list(values.values())).fetchone()[0])
        cursor = self.db.execute(sql, list(values.values()))
        return int(cursor.lastrowid or 0)

    def _update(self, table: str, row_id: int, values: dict[str, Any]) -> None:
        if values:
            assignments = ", ".join(f"{column} = ?" for column in values)
            self.db.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", [*values.values(), row_id])

    # -- links

    def ensure_link(self, url: str, url_as_cited: str | None = None, *, now: datetime | None = None) -> int:
        """The id of the link for normalized ``url``, created ``pending`` if new."""
        row = self._one("SELECT id FROM links WHERE url = ?", [url])
        if row:
            return int(row["id"])
        stamp = iso(now or utcnow())
        host = urlsplit(url).hostname or ""
        # a link first seen on a host a reviewer ignores is excluded from the start (SPEC §9)
        state, reason = (State.EXCLUDED.value, IGNORED) if self.host_ignored(host) else (State.PENDING.value, None)
        return self._insert("links", {"url": url, "url_as_cited": url_as_cited or url, "host": host, "state": state,
                                      "reason": reason, "state_since": stamp, "first_seen": stamp})

    def link(self, url: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM links WHERE url = ?", [url])

    def link_by_id(self, link_id: int) -> dict[str, Any]:
        row = self._one("SELECT * FROM links WHERE id = ?", [link_id])
        if row is None:
            raise StoreError(f"no link with id {link_id}")
        return row

    def links(self, state: str | None = None) -> list[dict[str, Any]]:
        if state:
            return list(self._rows("SELECT * FROM links WHERE state = ? ORDER BY url", [state]))
        return list(self._rows("SELECT * FROM links ORDER BY url"))

    # what a check run needs of a link before its check (it reads the link whole when the check
    # starts): which it is, its host, whether a reviewer ignores it
    BRIEF_COLUMNS = "id, url, host, state, reason, last_checked"
    PAGE = 5000  # rows a paged read takes at a time

    def iter_links(self) -> Iterator[dict[str, Any]]:
        """Every link, brief (``BRIEF_COLUMNS``), by id, read a page at a time: a run over a large
        archive never holds its whole list of links. A link added meanwhile comes too."""
        after = 0
        while True:
            page = list(self._rows(f"SELECT {self.BRIEF_COLUMNS} FROM links WHERE id > ? ORDER BY id LIMIT ?",
                                   [after, self.PAGE]))
            yield from page
            if len(page) < self.PAGE:
                return
            after = page[-1]["id"]

    @staticmethod
    def _due_sql(cutoffs: Mapping[str, datetime]) -> tuple[str, str, list[Any]]:
        """(never checked, checked and due again, their parameters: the states', then each state's
        cutoff): SQL conditions on ``links`` for the links :meth:`due_links` lists. Each state's
        cutoff is one expression, so no state index is preferred over ``links_checked_order``."""
        states = list(cutoffs)
        never = f"(last_checked IS NULL AND state IN ({','.join('?' * len(states))}))"
        again = "last_checked <= CASE state " + " ".join("WHEN ? THEN ?" for _ in states) + " END"
        return never, again, [*states, *(value for state, cutoff in cutoffs.items() for value in (state, iso(cutoff)))]

    def count_due(self, cutoffs: Mapping[str, datetime]) -> int:
        """How many links :meth:`due_links` would list."""
        if not cutoffs:
            return 0
        never, again, params = self._due_sql(cutoffs)
        return int(self.db.execute(f"SELECT count(*) FROM links WHERE {never} OR {again}", params).fetchone()[0])

    def hosts_with_work(self, cutoffs: Mapping[str, datetime]) -> set[str]:
        """Hosts of the links a sweep would capture (never captured nor judged) or check (due)."""
        work = "(cited_capture_id IS NULL AND last_checked IS NULL AND NOT (state = 'excluded' AND reason = 'ignored'))"
        params: list[Any] = []
        if cutoffs:
            never, again, params = self._due_sql(cutoffs)
            work += f" OR {never} OR {again}"
        rows = self.db.execute(f"SELECT DISTINCT host FROM links WHERE host IS NOT NULL AND host <> '' AND ({work})",
                               params)
        return {str(row[0]) for row in rows}

    def iter_due_links(self, cutoffs: Mapping[str, datetime]) -> Iterator[dict[str, Any]]:
        """The links :meth:`due_links` lists, brief, read a page at a time while they are checked:
        never-checked ones first (by id), then the least recently checked. Each comes once: a
        link checked meanwhile is no longer due (checked after every cutoff), and one still in its
        check lies before the page boundary."""
        if not cutoffs:
            return
        never, again, params = self._due_sql(cutoffs)
        states, cutoff_params = params[:len(cutoffs)], params[len(cutoffs):]
        after = 0
        while True:  # never checked, whatever the state
            page = list(self._rows(f"SELECT {self.BRIEF_COLUMNS} FROM links WHERE {never} AND id > ? "
                                   "ORDER BY id LIMIT ?", [*states, after, self.PAGE]))
            yield from page
            if len(page) < self.PAGE:
                break
            after = page[-1]["id"]
        checked, after = "", 0
        while True:  # then by last check, oldest first
            # a range of the links_checked_order index, past the last page's (last_checked, id)
            page = list(self._rows(f"SELECT {self.BRIEF_COLUMNS} FROM links WHERE last_checked >= ? "
                                   f"AND NOT (last_checked = ? AND id <= ?) AND {again} "
                                   "ORDER BY last_checked, id LIMIT ?",
                                   [checked, checked, after, *cutoff_params, self.PAGE]))
            yield from page
            if len(page) < self.PAGE:
                return
            checked, after = page[-1]["last_checked"], page[-1]["id"]

    def urls_in_states(self, states: Iterable[str]) -> list[str]:
        """URLs of the links in any of ``states``, by URL."""
        wanted = sorted(set(states))
        if not wanted:
            return []
        rows = self.db.execute(f"SELECT url FROM links WHERE state IN ({','.join('?' * len(wanted))}) ORDER BY url",
                               wanted)
        return [str(row[0]) for row in rows]

    def links_without_capture(self) -> list[tuple[int, str]]:
        """(id, url) of links never captured nor judged yet: the new links of a sweep."""
        rows = self.db.execute(
            "SELECT id, url FROM links WHERE cited_capture_id IS NULL AND last_checked IS NULL "
            "AND NOT (state = 'excluded' AND reason = 'ignored') ORDER BY id"
        )
        return [(int(row[0]), str(row[1])) for row in rows]

    def update_link(self, link_id: int, **values: Any) -> None:
        self._update("links", link_id, values)

    def count_by_state(self) -> dict[str, int]:
        return {row["state"]: row["n"] for row in self._rows("SELECT state, count(*) AS n FROM links GROUP BY state")}

    # -- citations

    def record_source(self, source: str, kind: str, *, name: str | None = None, title: str | None = None,
                      now: datetime | None = None) -> None:
        stamp = iso(now or utcnow())
        existing = self._one("SELECT source FROM sources WHERE source = ?", [source])
        if existing:
            self.db.execute(
                "UPDATE sources SET last_collected = ?, title = coalesce(?, title), name = coalesce(?, name) WHERE source = ?",
                [stamp, title, name, source],
            )
        else:
            self._insert(
                "sources",
                {"source": source, "kind": kind, "name": name, "title": title,
                 "first_collected": stamp, "last_collected": stamp}
            )

    def add_citations(self, source: str, citations: Iterable[CitationInput], *,
                      now: datetime | None = None) -> tuple[int, int]:
        """Record the citations found in ``source`` now; returns (new, removed).

        Idempotent: a citation seen again has its ``last_seen`` updated; one that
        no longer appears in the source is marked removed, never deleted.
        """
        stamp = iso(now or utcnow())
        seen: set[int] = set()
        new = 0
        with self.atomic():
            for item in citations:
                link_id = self.ensure_link(item.url, item.url_as_written, now=now)
                row = self._one(
                    "SELECT id FROM citations WHERE link_id = ? AND source = ? AND place = ? "
                    "AND comment IS ? AND url_as_written = ?",
                    [link_id, source, item.place, item.comment, item.url_as_written],
                )
                values = {
                    "comment_author": item.comment_author, "comment_date": item.comment_date,
                    "anchor": item.anchor, "context": item.context, "position": item.position,
                    "comment_kind": item.comment_kind, "comment_label": item.comment_label,
                    "comment_parent": item.comment_parent, "comment_permalink": item.comment_permalink,
                    "last_seen": stamp, "removed_at": None,
                }
                if row:
                    self._update("citations", row["id"], values)
                    seen.add(int(row["id"]))
                    continue
                citation_id = self._insert(
                    "citations",
                    {"link_id": link_id, "source": source, "place": item.place, "comment": item.comment,
                     "url_as_written": item.url_as_written, "first_seen": stamp, **values}
                )
                seen.add(citation_id)
                new += 1
            removed = 0
            for row in self._rows(
                "SELECT id FROM citations WHERE source = ? AND removed_at IS NULL", [source]
            ):
                if row["id"] not in seen:
                    self._update("citations", row["id"], {"removed_at": stamp})
                    removed += 1
        return new, removed

    def citations(self, link_id: int, *, include_removed: bool = True) -> list[dict[str, Any]]:
        sql = "SELECT * FROM citations WHERE link_id = ?"
        if not include_removed:
            sql += " AND removed_at IS NULL"
        return list(self._rows(sql + " ORDER BY source, place, comment, position", [link_id]))

    def citations_by_link(self) -> dict[int, list[dict[str, Any]]]:
        grouped: dict[int, list[dict[str, Any]]] = {}
        for row in self._rows("SELECT * FROM citations ORDER BY source, place, comment, position"):
            grouped.setdefault(row["link_id"], []).append(row)
        return grouped

    # -- captures

    def last_response_capture(self, link_id: int) -> dict[str, Any] | None:
        """The newest capture holding a full response that can be read back (the original for a revisit)."""
        return self._one(
            "SELECT * FROM captures WHERE link_id = ? AND kind = 'response' AND damaged IS NULL "
            "ORDER BY id DESC LIMIT 1", [link_id]
        )

    def mark_damaged(self, capture_id: int, problem: str) -> None:
        """Record that a capture's WARC record cannot be read back (never a revisit's original again)."""
        with self.atomic():
            self.db.execute("UPDATE captures SET damaged = ? WHERE id = ?", [problem, capture_id])

    def capture(self, capture_id: int | None) -> dict[str, Any] | None:
        if capture_id is None:
            return None
        return self._one("SELECT * FROM captures WHERE id = ?", [capture_id])

    def record_capture(self, link_id: int, result: FetchResult, locations: list[RecordLocation], *,
                       refers_to: int | None = None, now: datetime | None = None) -> int:
        """Store a fetch whose WARC records are on disk (``locations``); returns the capture id."""
        final = result.final
        main = next((loc for loc in reversed(locations) if loc.record_type in ("response", "revisit")), None)
        kind = main.record_type if main else "failed"
        with self.atomic():
            capture_id = self._insert(
                "captures",
                {
                    "link_id": link_id, "url": result.url, "final_url": result.final_url,
                    "captured_at": iso(final.started_at if final else (now or utcnow())),
                    "status": final.status if final else None,
                    "content_type": final.content_type if final else None,
                    "payload_digest": final.payload_digest if final else None,
                    "kind": kind, "warc": main.warc if main else None,
                    "offset": main.offset if main else None, "length": main.length if main else None,
                    "record_id": main.record_id if main else None, "refers_to": refers_to,
                    "ip": final.ip if final else None, "bytes": sum(h.body_length for h in result.hops),
                    "truncated": final.truncated if final else None,
                    "error": result.error, "detail": result.detail or None, "hops": len(result.hops),
                }
            )
            for loc in locations:
                self._insert("records", {
                    "capture_id": capture_id, "hop": loc.hop, "record_type": loc.record_type, "url": loc.url,
                    "warc": loc.warc, "offset": loc.offset, "length": loc.length,
                    "record_id": loc.record_id, "date": loc.date,
                    "status": result.hops[loc.hop].status if loc.hop < len(result.hops) else None,
                })
        return capture_id

    def records(self, capture_id: int) -> list[dict[str, Any]]:
        return list(self._rows("SELECT * FROM records WHERE capture_id = ? ORDER BY id", [capture_id]))

    def add_records(self, capture_id: int, locations: Iterable[RecordLocation]) -> None:
        """Records derived from a capture's response after it was stored (a rendered DOM as a
        ``conversion``, a screenshot as a ``resource``: SPEC §6), whose bytes are on disk."""
        with self.atomic():
            for loc in locations:
                self._insert("records", {
                    "capture_id": capture_id, "hop": loc.hop, "record_type": loc.record_type, "url": loc.url,
                    "warc": loc.warc, "offset": loc.offset, "length": loc.length, "record_id": loc.record_id,
                    "date": loc.date, "status": None,
                })

    def recorded_end(self, warc: str) -> int:
        """Where the last record the database knows in ``warc`` ends (0: none)."""
        ends = [self.db.execute(f"SELECT max(offset + length) FROM {table} WHERE warc = ?", [warc]).fetchone()[0]
                for table in ("records", "alternatives")]
        return int(max(end or 0 for end in ends))

    def captures_for(self, link_id: int) -> list[dict[str, Any]]:
        return list(self._rows("SELECT * FROM captures WHERE link_id = ? ORDER BY id", [link_id]))

    # -- texts

    def text_for(self, payload_digest: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM texts WHERE payload_digest = ?", [payload_digest])

    def save_text(self, payload_digest: str, title: str | None, text: str, fingerprint: str | None,
                  sketch: str | None = None) -> None:
        """Store a payload's main text; a ``sketch`` (archiver.check.prefilter) is kept unless a new one is given."""
        row: dict[str, Any] = {"payload_digest": payload_digest, "title": title, "text": text,
                               "fingerprint": fingerprint}
        if sketch is not None:
            row["sketch"] = sketch
        updates = ", ".join(f"{column} = excluded.{column}" for column in row if column != "payload_digest")
        with self.atomic():  # a transaction of its own, as every write of the store
            self.db.execute(f"INSERT INTO texts ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
                            f"ON CONFLICT (payload_digest) DO UPDATE SET {updates}", list(row.values()))

    def save_sketch(self, payload_digest: str, sketch: str) -> None:
        """The sketch of a stored main text ('' when the page has none: not tried again)."""
        with self.atomic():
            self.db.execute("UPDATE texts SET sketch = ? WHERE payload_digest = ?", [sketch, payload_digest])

    def cited_without_text(self, link_ids: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The cited captures of these links whose main text is not stored yet (response records only)."""
        return self._rows_in(
            "SELECT c.* FROM links l JOIN captures c ON c.id = l.cited_capture_id "
            "LEFT JOIN texts t ON t.payload_digest = c.payload_digest "
            "WHERE l.id IN (?...) AND t.payload_digest IS NULL AND c.payload_digest IS NOT NULL", link_ids)

    # -- checks

    def record_check(self, link_id: int, *, checked_at: datetime, verdict: str, reason: str | None,
                     state: str, http_status: int | None = None, final_url: str | None = None,
                     similarity: float | None = None, capture_id: int | None = None,
                     detail: str | None = None, link_updates: dict[str, Any] | None = None) -> int:
        """Store one check and the link's new state in one transaction."""
        with self.atomic():
            check_id = self._insert(
                "checks",
                {"link_id": link_id, "checked_at": iso(checked_at), "verdict": verdict, "reason": reason,
                 "http_status": http_status, "final_url": final_url, "similarity": similarity,
                 "capture_id": capture_id, "state": state, "detail": detail}
            )
            self.update_link(link_id, **{"last_check_id": check_id, "last_checked": iso(checked_at),
                                         **(link_updates or {})})
        return check_id

    # what a reviewer's decision (or its undo) changes on a link that a check must not write over
    DECIDED_COLUMNS = ("state", "reason", "cited_capture_id")

    def record_check_unless_decided(self, link: Mapping[str, Any], *, checked_at: datetime, verdict: str,
                                    reason: str | None, state: str, http_status: int | None = None,
                                    final_url: str | None = None, similarity: float | None = None,
                                    capture_id: int | None = None, detail: str | None = None,
                                    link_updates: dict[str, Any] | None = None) -> str | None:
        """``record_check`` for a check that read ``link`` before fetching: its state is written only if
        no decision changed the link's state, reason or cited copy meanwhile (one conditional UPDATE;
        on PostgreSQL it waits for a decision holding the row, ``decide`` locks it). Otherwise the
        decision stands: the check is kept as evidence, with the link's state and the link is not
        marked checked (it stays due, and the next check judges it with the decision in view); returns
        the state kept, or None when the check's state was written."""
        same = "IS NOT DISTINCT FROM" if self.postgres else "IS"  # null-safe equality (SQLite before 3.39)
        guard = " AND ".join(f"{column} {same} ?" for column in self.DECIDED_COLUMNS)
        updates = {"last_check_id": None, "last_checked": iso(checked_at), **(link_updates or {})}
        with self.atomic():
            check_id = self._insert(
                "checks",
                {"link_id": link["id"], "checked_at": iso(checked_at), "verdict": verdict, "reason": reason,
                 "http_status": http_status, "final_url": final_url, "similarity": similarity,
                 "capture_id": capture_id, "state": state, "detail": detail}
            )
            updates["last_check_id"] = check_id
            assignments = ", ".join(f"{column} = ?" for column in updates)
            cursor = self.db.execute(f"UPDATE links SET {assignments} WHERE id = ? AND {guard}",
                                     [*updates.values(), link["id"], *(link[c] for c in self.DECIDED_COLUMNS)])
            if cursor.rowcount:
                return None
            row = self._one("SELECT state FROM links WHERE id = ?", [link["id"]])
            kept = str(row["state"]) if row else state
            note = "not applied: a reviewer decided on this link while it was being checked"
            self.db.execute("UPDATE checks SET state = ?, detail = ? WHERE id = ?",
                            [kept, f"{detail}; {note}" if detail else note, check_id])
            latest = (link_updates or {}).get("latest_capture_id")
            if latest:  # the capture is the link's all the same
                self.update_link(link["id"], latest_capture_id=latest)
        return kept

    def lock_link(self, link_id: int) -> dict[str, Any]:
        """The link, its row locked until the transaction ends (PostgreSQL; on SQLite the archive lock
        serializes writers): a decision reads and writes it while no check can write it between."""
        row = self._one("SELECT * FROM links WHERE id = ?" + (" FOR UPDATE" if self.postgres else ""), [link_id])
        if row is None:
            raise StoreError(f"no link with id {link_id}")
        return row

    def checks(self, link_id: int) -> list[dict[str, Any]]:
        return list(self._rows("SELECT * FROM checks WHERE link_id = ? ORDER BY id", [link_id]))

    def due_links(self, cutoffs: Mapping[str, datetime], *, limit: int | None = None) -> list[dict[str, Any]]:
        """Links due for a check: in a state of ``cutoffs`` (see ``states.due_cutoffs``) and never
        checked, or last checked at or before that state's cutoff. Never-checked links come first,
        then the longest overdue; each state's part is one range of the ``links_state_checked`` index.
        (A whole run reads them a page at a time: :meth:`iter_due_links`.)"""
        if not cutoffs:
            return []
        states = list(cutoffs)
        parts = [f"SELECT * FROM links WHERE state IN ({','.join('?' * len(states))}) AND last_checked IS NULL"]
        params: list[Any] = list(states)
        for state, cutoff in cutoffs.items():
            parts.append("SELECT * FROM links WHERE state = ? AND last_checked <= ?")
            params += [state, iso(cutoff)]
        rows = list(self._rows(" UNION ALL ".join(parts), params))

        def overdue(row: dict[str, Any]) -> tuple[bool, float, int]:
            if row["last_checked"] is None:
                return False, 0.0, row["id"]
            return True, (parse_iso(row["last_checked"]) - cutoffs[row["state"]]).total_seconds(), row["id"]

        rows.sort(key=overdue)
        return rows[:limit] if limit else rows

    # -- sweeps

    def start_sweep(self, now: datetime | None = None) -> int:
        return self._insert("sweeps", {"started_at": iso(now or utcnow()), "states_before": self.state_mark()})

    def finish_sweep(self, sweep_id: int, summary: dict[str, Any], now: datetime | None = None) -> None:
        with self.atomic():
            self._update("sweeps", sweep_id, {"finished_at": iso(now or utcnow()), "summary": json.dumps(summary),
                                              "states_after": self.state_mark()})

    def state_mark(self) -> int:
        """The position in the state log now: ``states_at(mark)`` gives every link's state at this moment."""
        row = self.db.execute("SELECT max(id) FROM state_changes").fetchone()
        return int(row[0] or 0)

    def states_at(self, mark: int) -> dict[int, str]:
        """Each link's state at ``state_mark() == mark`` (links created later are absent)."""
        rows = self.db.execute(
            "SELECT link_id, state FROM state_changes WHERE id IN "
            "(SELECT max(id) FROM state_changes WHERE id <= ? GROUP BY link_id)", [mark],
        )
        return {int(link_id): str(state) for link_id, state in rows}

    def sweeps(self) -> list[dict[str, Any]]:
        return list(self._rows("SELECT * FROM sweeps ORDER BY id"))

    # -- decisions (SPEC §9; the rules are in archiver.review.decisions)

    def add_decision(self, values: dict[str, Any]) -> int:
        return self._insert("decisions", values)

    def update_decision(self, decision_id: int, **values: Any) -> None:
        self._update("decisions", decision_id, values)

    def decision(self, decision_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM decisions WHERE id = ?", [decision_id])

    def decisions(self, *, link_id: int | None = None, host: str | None = None,
                  include_undone: bool = True, limit: int | None = None) -> list[dict[str, Any]]:
        """Decisions, newest first, with the URL of their link; ``link_id`` and ``host``
        select a link's own decisions and those on its host."""
        where, params = [], []
        if link_id is not None or host is not None:
            where.append("(d.link_id = ? OR (d.link_id IS NULL AND d.host = ?))")
            params += [link_id, host]
        if not include_undone:
            where.append("d.undone_at IS NULL")
        sql = ("SELECT d.*, l.url AS url FROM decisions d LEFT JOIN links l ON l.id = d.link_id"
               + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY d.id DESC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return list(self._rows(sql, params))

    def host_ignored(self, host: str) -> bool:
        return self._one("SELECT 1 AS x FROM decisions WHERE host = ? AND link_id IS NULL AND decision = 'ignore' "
                         "AND undone_at IS NULL LIMIT 1", [host]) is not None

    def link_ids_of_host(self, host: str) -> list[int]:
        return [int(row[0]) for row in self.db.execute("SELECT id FROM links WHERE host = ? ORDER BY id", [host])]

    def check(self, check_id: int | None) -> dict[str, Any] | None:
        if check_id is None:
            return None
        return self._one("SELECT * FROM checks WHERE id = ?", [check_id])

    def report_reviews(self) -> tuple[dict[int, dict[str, Any]], dict[str, dict[str, Any]]]:
        """The latest decision not undone per link id, and per host (host-wide decisions)."""
        by_link: dict[int, dict[str, Any]] = {}
        by_host: dict[str, dict[str, Any]] = {}
        for row in self._rows("SELECT id, link_id, host, decision, note, decided_by, decided_at FROM decisions "
                              "WHERE undone_at IS NULL ORDER BY id"):
            if row["link_id"] is not None:
                by_link[int(row["link_id"])] = row
            elif row["host"]:
                by_host[row["host"]] = row
        return by_link, by_host

    def find_links(self, *, states: Iterable[str] = (), host: str | None = None, source: str | None = None,
                   text: str | None = None, limit: int = 100, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
        """(how many match, one page of them by URL): links in ``states``, on ``host``, cited by
        ``source``, whose URL or citing article's address or title contains ``text``."""
        where: list[str] = []
        params: list[Any] = []
        wanted = list(states)
        if wanted:
            where.append(f"l.state IN ({','.join('?' * len(wanted))})")
            params += wanted
        if host:
            where.append("l.host = ?")
            params.append(host.lower())
        if source:
            where.append("EXISTS (SELECT 1 FROM citations c WHERE c.link_id = l.id AND c.source = ?)")
            params.append(source)
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(l.url LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM citations c LEFT JOIN sources s "
                         "ON s.source = c.source WHERE c.link_id = l.id AND (c.source LIKE ? ESCAPE '\\' "
                         "OR s.title LIKE ? ESCAPE '\\')))")
            params += [pattern, pattern, pattern]
        clause = " WHERE " + " AND ".join(where) if where else ""
        total = int(self.db.execute(f"SELECT count(*) FROM links l{clause}", params).fetchone()[0])
        rows = list(self._rows(
            "SELECT l.id, l.url, l.host, l.state, l.reason, l.state_since, l.last_checked, l.failures, "
            f"l.http_status, l.similarity FROM links l{clause} ORDER BY l.url LIMIT ? OFFSET ?",
            [*params, max(0, int(limit)), max(0, int(offset))],
        ))
        return total, rows

    def source_list(self) -> list[dict[str, Any]]:
        """Every article or file collected from, with its title, by title."""
        return list(self._rows("SELECT source, kind, name, title FROM sources ORDER BY coalesce(title, source)"))

    def source_titles(self, sources: Iterable[str]) -> dict[str, str | None]:
        return {row["source"]: row["title"] for row in
                self._rows_in("SELECT source, title FROM sources WHERE source IN (?...)", sources)}

    # -- other web archives (SPEC §10; the rules are in archiver.export)

    def add_alternative(self, values: dict[str, Any]) -> int:
        return self._insert("alternatives", values)

    def lookups_done(self, link_ids: Iterable[int]) -> set[tuple[int, str, str | None]]:
        """(link id, archive, state_since) of the lookups that got an answer (found or none)."""
        return {(int(row["link_id"]), row["archive"], row["state_since"]) for row in self._rows_in(
            "SELECT link_id, archive, state_since FROM alternatives WHERE outcome != 'error' "
            "AND link_id IN (?...)", link_ids)}

    def alternatives(self, link_ids: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The latest lookup per link and archive, by link id and archive."""
        return self._rows_in(
            "SELECT * FROM alternatives a WHERE a.link_id IN (?...) AND a.id = (SELECT max(b.id) FROM alternatives b "
            "WHERE b.link_id = a.link_id AND b.archive = a.archive) ORDER BY a.link_id, a.archive", link_ids)

    def report_alternatives(self) -> Iterator[dict[str, Any]]:
        """The latest lookup per link and archive, every link (a report's ``alternatives``)."""
        return self._rows(
            "SELECT a.* FROM alternatives a WHERE a.id = (SELECT max(b.id) FROM alternatives b "
            "WHERE b.link_id = a.link_id AND b.archive = a.archive) ORDER BY a.link_id, a.id")

    def add_submission(self, values: dict[str, Any]) -> int:
        return self._insert("submissions", values)

    def update_submission(self, submission_id: int, **values: Any) -> None:
        self._update("submissions", submission_id, values)

    def submissions(self, link_id: int | None = None, *, status: str | None = None) -> list[dict[str, Any]]:
        """Save Page Now submissions, oldest first: all, one link's, or those with ``status``."""
        where, params = [], []
        for column, value in (("link_id", link_id), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = "SELECT * FROM submissions" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        return list(self._rows(sql, params))

    def submitted_link_ids(self, link_ids: Iterable[int]) -> set[int]:
        return {int(row["link_id"]) for row in self._rows_in(
            "SELECT DISTINCT link_id FROM submissions WHERE link_id IN (?...)", link_ids)}

    # -- export (archiver.export.wacz): streaming reads of what a WACZ package needs

    def export_links(self, *, states: Iterable[str] = (), since: datetime | None = None,
                     sources: Iterable[str] = (), urls: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
        """Links matching every filter given (a state among ``states``, checked or changing state
        since ``since``, cited by a source named or located as one of ``sources``, one of ``urls``),
        by id, with the capture of their last check."""
        where: list[str] = []
        params: list[Any] = []
        for column, values in (("l.state", list(states)), ("l.url", list(urls))):
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params += values
        if since is not None:
            where.append("(l.last_checked >= ? OR l.state_since >= ?)")
            params += [iso(since), iso(since)]
        wanted = list(sources)
        if wanted:
            marks = ",".join("?" * len(wanted))
            where.append(f"EXISTS (SELECT 1 FROM citations c LEFT JOIN sources s ON s.source = c.source "
                         f"WHERE c.link_id = l.id AND (c.source IN ({marks}) OR s.name IN ({marks})))")
            params += wanted + wanted
        return self._rows(
            "SELECT l.id, l.url, l.state, l.reason, l.cited_capture_id, l.latest_capture_id, "
            "k.capture_id AS check_capture_id FROM links l LEFT JOIN checks k ON k.id = l.last_check_id"
            + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY l.id", params)

    def export_captures(self, capture_ids: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The given captures with their page title."""
        return self._rows_in(
            "SELECT c.id, c.link_id, c.url, c.final_url, c.captured_at, c.kind, c.refers_to, c.warc, c.offset, "
            "c.status, t.title FROM captures c LEFT JOIN texts t ON t.payload_digest = c.payload_digest "
            "WHERE c.id IN (?...)", capture_ids)

    def export_records(self, capture_ids: Iterable[int]) -> Iterator[dict[str, Any]]:
        """Every WARC record of the given captures, by capture and in the order written."""
        return self._rows_in(
            "SELECT capture_id, record_type, url, warc, offset, length, date FROM records "
            "WHERE capture_id IN (?...) ORDER BY capture_id, id", capture_ids)

    # -- reports
    # Streaming, column-limited queries for archiver.report: 10,000 links in a few MB.
    # ``since`` keeps the links checked or changing state at or after it (every method agrees).

    @staticmethod
    def _report_filter(since: datetime | None) -> tuple[str, list[str]]:
        if since is None:
            return "", []
        return " WHERE (l.last_checked >= ? OR l.state_since >= ?)", [iso(since), iso(since)]

    def report_links(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Links by URL with the capture of their last check and their latest capture."""
        where, params = self._report_filter(since)
        return self._rows(
            "SELECT l.id, l.url, l.state, l.reason, l.state_since, l.first_seen, l.last_checked, l.failures, "
            "l.http_status, l.final_url, l.similarity, l.cited_capture_id, "
            "coalesce(l.latest_capture_id, (SELECT max(c.id) FROM captures c WHERE c.link_id = l.id "
            "AND c.kind != 'failed')) AS latest_capture_id, k.capture_id AS evidence_capture_id "
            f"FROM links l LEFT JOIN checks k ON k.id = l.last_check_id{where} ORDER BY l.url",
            params,
        )

    _REPORT_CITATION = (
        "SELECT l.url AS link_url, c.link_id, c.source, c.place, c.comment, c.comment_author, c.anchor, "
        "c.context, c.removed_at IS NOT NULL AS removed, s.title AS source_title, "
        "c.comment_kind, c.comment_label, c.comment_permalink "
        "FROM citations c JOIN links l ON l.id = c.link_id LEFT JOIN sources s ON s.source = c.source"
    )
    _REPORT_CITATION_ORDER = " ORDER BY l.url, c.source, c.place != 'body', c.comment, c.position, c.id"

    def report_citations(self, link_ids: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The citations of the given links, with their source's title, by link URL."""
        return self._rows_in(f"{self._REPORT_CITATION} WHERE c.link_id IN (?...){self._REPORT_CITATION_ORDER}",
                             link_ids)

    def report_all_citations(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """The citations of every link of ``report_links(since)``, in the same (URL) order."""
        where, params = self._report_filter(since)
        return self._rows(self._REPORT_CITATION + where + self._REPORT_CITATION_ORDER, params)

    _REPORT_CAPTURE = (
        "SELECT c.id, c.url, c.final_url, c.captured_at, c.status, c.kind, c.warc, c.offset, c.length, "
        "c.payload_digest, c.error, c.detail, t.title, (SELECT r.date FROM records r WHERE r.capture_id = c.id "
        "AND r.warc = c.warc AND r.offset = c.offset) AS record_date "
    )

    def report_captures(self, capture_ids: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The given captures with the WARC-Date of their main record and their page title."""
        return self._rows_in(f"{self._REPORT_CAPTURE} FROM captures c LEFT JOIN texts t "
                             "ON t.payload_digest = c.payload_digest WHERE c.id IN (?...)", capture_ids)

    def report_cited_captures(self, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """The cited copy of every link of ``report_links(since)`` that has one, in the same (URL) order."""
        where, params = self._report_filter(since)
        return self._rows(
            f"{self._REPORT_CAPTURE}, l.url AS link_url FROM links l JOIN captures c ON c.id = l.cited_capture_id "
            f"LEFT JOIN texts t ON t.payload_digest = c.payload_digest{where} ORDER BY l.url",
            params,
        )

    def report_texts(self, digests: Iterable[str]) -> Iterator[dict[str, Any]]:
        """Main texts (payload_digest, title, text) for the given payload digests."""
        return self._rows_in("SELECT payload_digest, title, text FROM texts WHERE payload_digest IN (?...)", digests)

    def report_states_before(self, moment: datetime) -> dict[int, str]:
        """Each link's state strictly before ``moment`` (links created later are absent)."""
        rows = self.db.execute(
            "SELECT link_id, state FROM state_changes WHERE id IN "
            "(SELECT max(id) FROM state_changes WHERE at < ? GROUP BY link_id)", [iso(moment)],
        )
        return {int(link_id): str(state) for link_id, state in rows}

    # -- workers (SPEC §11; archiver.worker): heartbeats and host leases. Lease times are the
    # workers' clocks, in milliseconds (``iso_ms``): keep the machines' clocks in sync (NTP).

    def register_worker(self, worker_id: str, machine: str, pid: int, now: datetime) -> None:
        with self.atomic():
            self._insert("workers", {"id": worker_id, "machine": machine, "pid": pid, "started_at": iso_ms(now),
                                     "last_beat": iso_ms(now)})

    def beat(self, worker_id: str, now: datetime, lease_until: datetime, *, captures: int, checks: int) -> int:
        """Renew this worker's heartbeat and leases; returns the leases it holds."""
        with self.atomic():
            self.db.execute("UPDATE workers SET last_beat = ?, captures = ?, checks = ? WHERE id = ?",
                            [iso_ms(now), captures, checks, worker_id])
            cursor = self.db.execute("UPDATE host_leases SET expires_at = ? WHERE worker = ? AND expires_at >= ?",
                                     [iso_ms(lease_until), worker_id, iso_ms(now)])
            return int(cursor.rowcount or 0)

    def stop_worker(self, worker_id: str, now: datetime) -> None:
        with self.atomic():
            self.db.execute("UPDATE host_leases SET worker = NULL, expires_at = NULL, released_at = ? "
                            "WHERE worker = ?", [iso_ms(now), worker_id])
            self.db.execute("UPDATE workers SET stopped_at = ?, last_beat = ? WHERE id = ?",
                            [iso_ms(now), iso_ms(now), worker_id])

    @staticmethod
    def _due_clause(cutoffs: Mapping[str, datetime]) -> tuple[str, list[Any]]:
        """Links (alias ``l``) with work due: never captured nor judged (new), or due for a check."""
        parts = ["(l.cited_capture_id IS NULL AND l.last_checked IS NULL "
                 "AND NOT (l.state = 'excluded' AND l.reason = 'ignored'))"]
        params: list[Any] = []
        if cutoffs:
            parts.append(f"(l.state IN ({','.join('?' * len(cutoffs))}) AND l.last_checked IS NULL)")
            params += list(cutoffs)
            for state, cutoff in cutoffs.items():
                parts.append("(l.state = ? AND l.last_checked <= ?)")
                params += [state, iso(cutoff)]
        return "(" + " OR ".join(parts) + ")", params

    def claim_hosts(self, worker_id: str, cutoffs: Mapping[str, datetime], *, limit: int, now: datetime,
                    lease_until: datetime, released_before: datetime) -> list[str]:
        """Lease up to ``limit`` hosts with due work that no live worker holds (``FOR UPDATE SKIP LOCKED``
        on PostgreSQL: workers claiming at once never wait for, nor take, each other's hosts)."""
        due, params = self._due_clause(cutoffs)
        with self.atomic():
            rows = self.db.execute(
                "SELECT h.host FROM host_leases h WHERE (h.worker IS NULL OR h.expires_at < ?) "
                "AND (h.released_at IS NULL OR h.released_at <= ?) "
                f"AND EXISTS (SELECT 1 FROM links l WHERE l.host = h.host AND {due}) ORDER BY h.host LIMIT ?"
                + (" FOR UPDATE OF h SKIP LOCKED" if self.postgres else ""),
                [iso_ms(now), iso_ms(released_before), *params, limit]).fetchall()
            hosts = [str(row[0]) for row in rows]
            for host in hosts:
                self.db.execute("UPDATE host_leases SET worker = ?, expires_at = ?, claimed_at = ? WHERE host = ?",
                                [worker_id, iso_ms(lease_until), iso_ms(now), host])
        return hosts

    def add_host_leases(self) -> None:
        """A (free) lease row for every host of a link that has none: hosts first seen since the last call
        become claimable. One pass over ``links``: workers call it when they start, when idle and every
        so often, not per claim. Committed on its own: a claim's transaction inserting rows would make
        another claim inserting the same ones wait for it."""
        with self.atomic():
            self.db.execute("INSERT INTO host_leases (host) SELECT DISTINCT l.host FROM links l WHERE NOT EXISTS "
                            "(SELECT 1 FROM host_leases h WHERE h.host = l.host) ON CONFLICT (host) DO NOTHING")

    def lease_hosts(self, worker_id: str, hosts: Iterable[str], *, now: datetime, lease_until: datetime,
                    released_before: datetime) -> list[str]:
        """Lease those of ``hosts`` no live worker holds, due work or not (`archiver check` run by hand
        next to workers: it steps aside as a worker would); returns the hosts leased."""
        wanted = sorted(set(hosts))
        if not wanted:
            return []
        got: list[str] = []
        with self.atomic():
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ",".join("?" * len(chunk))
                self.db.execute(f"INSERT INTO host_leases (host) SELECT DISTINCT host FROM links WHERE host IN "
                                f"({marks}) ON CONFLICT (host) DO NOTHING", chunk)
                rows = self.db.execute(
                    f"SELECT host FROM host_leases WHERE host IN ({marks}) AND (worker IS NULL OR expires_at < ?) "
                    "AND (released_at IS NULL OR released_at <= ?) ORDER BY host"
                    + (" FOR UPDATE SKIP LOCKED" if self.postgres else ""),
                    [*chunk, iso_ms(now), iso_ms(released_before)]).fetchall()
                for (host,) in rows:
                    self.db.execute("UPDATE host_leases SET worker = ?, expires_at = ?, claimed_at = ? "
                                    "WHERE host = ?", [worker_id, iso_ms(lease_until), iso_ms(now), host])
                    got.append(str(host))
        return got

    def release_hosts(self, worker_id: str, hosts: Iterable[str], now: datetime) -> None:
        with self.atomic():
            for host in hosts:
                self.db.execute("UPDATE host_leases SET worker = NULL, expires_at = NULL, released_at = ? "
                                "WHERE host = ? AND worker = ?", [iso_ms(now), host, worker_id])

    def work_on_hosts(self, hosts: Iterable[str], cutoffs: Mapping[str, datetime]
                      ) -> tuple[list[tuple[int, str]], list[dict[str, Any]]]:
        """The due work on ``hosts``: (id, url) of the new links to capture, and the links due for a check."""
        wanted = list(hosts)
        if not wanted:
            return [], []
        due, params = self._due_clause(cutoffs)
        marks = ",".join("?" * len(wanted))
        rows = list(self._rows(f"SELECT l.* FROM links l WHERE l.host IN ({marks}) AND {due} ORDER BY l.id",
                               [*wanted, *params]))
        new = [(int(row["id"]), str(row["url"])) for row in rows
               if row["cited_capture_id"] is None and row["last_checked"] is None
               and not (row["state"] == "excluded" and row["reason"] == IGNORED)]
        fresh = {link_id for link_id, _ in new}
        return new, [row for row in rows if row["id"] not in fresh]

    def due_link_hosts(self, cutoffs: Mapping[str, datetime]) -> dict[int, str]:
        """Every link with work due: its id and host."""
        due, params = self._due_clause(cutoffs)
        return {int(row[0]): str(row[1]) for row in
                self.db.execute(f"SELECT l.id, l.host FROM links l WHERE {due}", params).fetchall()}

    def live_workers(self, now: datetime, stale_after: float) -> int:
        """Workers heard from within ``stale_after`` seconds and not stopped."""
        since = iso_ms(now - timedelta(seconds=stale_after))
        row = self.db.execute("SELECT count(*) FROM workers WHERE stopped_at IS NULL AND last_beat >= ?",
                              [since]).fetchone()
        return int(row[0])

    def worker_rows(self) -> list[dict[str, Any]]:
        """Every worker not stopped, and every worker holding a lease, with its lease counts."""
        return list(self._rows(
            "SELECT w.*, (SELECT count(*) FROM host_leases h WHERE h.worker = w.id) AS leases, "
            "(SELECT min(h.expires_at) FROM host_leases h WHERE h.worker = w.id) AS lease_expires "
            "FROM workers w WHERE w.stopped_at IS NULL OR EXISTS (SELECT 1 FROM host_leases h "
            "WHERE h.worker = w.id) ORDER BY w.started_at, w.id"))

    def stale_leases(self, now: datetime) -> list[dict[str, Any]]:
        """Leases past their expiry whose worker has not released them (it died): hosts waiting for another."""
        return list(self._rows("SELECT host, worker, expires_at, claimed_at FROM host_leases "
                               "WHERE worker IS NOT NULL AND expires_at < ? ORDER BY host", [iso_ms(now)]))

    # -- copying an archive's database (`archiver migrate`, SPEC §11)

    COPY_ORDER = ("links", "sources", "captures", "records", "citations", "texts", "checks", "sweeps",
                  "decisions", "alternatives", "submissions", "state_changes", "workers", "host_leases")

    def table_counts(self) -> dict[str, int]:
        return {table: int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for table in self.COPY_ORDER}

    def copy_into(self, target: Store) -> dict[str, int]:
        """Copy every row of this (SQLite) archive into ``target`` (a new, empty PostgreSQL archive of the
        same schema version) in one transaction, ids kept; returns the rows per table, verified by counting
        both sides. The state log is copied as it is (the target's triggers do not add to it meanwhile)."""
        if not target.postgres:
            raise StoreError("the target of a copy is a PostgreSQL database")
        if target.version != self.version:
            raise StoreError(f"{target.where}: schema version {target.version}, this archive's is {self.version}")
        if any(target.table_counts().values()):
            raise StoreError(f"{target.where}: not empty; copy into a new database")
        assert isinstance(target.db, PgDatabase)
        counts = self.table_counts()
        with target.atomic():
            target.db.execute("ALTER TABLE links DISABLE TRIGGER USER")
            for table in self.COPY_ORDER:
                cursor = self.db.conn.execute(f"SELECT * FROM {table} ORDER BY rowid")
                columns = [column[0] for column in cursor.description]
                target.db.copy_rows(table, columns, cursor)
                if table not in _KEYED_BY_NAME:
                    target.db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                      f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)")
            target.db.execute("ALTER TABLE links ENABLE TRIGGER USER")
            copied = target.table_counts()
            if copied != counts:
                wrong = ", ".join(f"{t} {counts[t]} -> {copied[t]}" for t in counts if counts[t] != copied[t])
                raise StoreError(f"the copy does not match the archive ({wrong}); nothing was copied")
        return copied
