"""The archive database: schema versioning, idempotent citations, one writer at a time."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from archiver.errors import ArchiveBusy, StoreError
from archiver.archive.lock import ArchiveLock
from archiver.archive.store import SCHEMA_VERSION, CitationInput, Store


def test_new_store_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert store.version == SCHEMA_VERSION
    conn = sqlite3.connect(tmp_path / "archive.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"links", "citations", "captures", "records", "checks", "texts", "sources", "sweeps"} <= tables


def test_store_from_a_newer_archiver_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "archive.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this archiver"):
        Store.open(tmp_path)


def _cite(url: str, comment: int | None = None) -> CitationInput:
    return CitationInput(url=url, url_as_written=url, source="article", place="comment" if comment else "body",
                         comment=comment, context=f"see {url}")


def test_recollecting_is_idempotent_and_marks_vanished_citations(tmp_path: Path, database: str) -> None:
    with Store.open(tmp_path, database) as store:
        assert store.add_citations("article", [_cite("https://a.example/1"), _cite("https://b.example/", 2)]) == (2, 0)
        assert store.add_citations("article", [_cite("https://a.example/1"), _cite("https://b.example/", 2)]) == (0, 0)
        assert store.add_citations("article", [_cite("https://a.example/1")]) == (0, 1)
        rows = store.db.execute("SELECT count(*) FROM citations").fetchone()[0]
        assert rows == 2  # removed, not deleted
        removed = store.citations(store.link("https://b.example/")["id"])
        assert removed[0]["removed_at"] is not None
        assert store.link("https://b.example/")["state"] == "pending"


def _hold_lock(directory: str, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    with ArchiveLock(Path(directory), what="sweep"):
        ready.set()
        time.sleep(30)


def test_second_writer_waits_then_names_the_holder(tmp_path: Path) -> None:
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(str(tmp_path), ready))
    holder.start()
    try:
        assert ready.wait(10)
        started = time.monotonic()
        with pytest.raises(ArchiveBusy) as info:
            ArchiveLock(tmp_path, wait=0.5).acquire()
        assert time.monotonic() - started >= 0.5
        assert f"pid {holder.pid}" in str(info.value)
    finally:
        holder.kill()
        holder.join()
    # the lock dies with its holder, even on SIGKILL
    with ArchiveLock(tmp_path, wait=2):
        pass


# -- when links are due, and the state log ---------------------------------------------------------


def _checked(store: Store, url: str, state: str, when: str) -> int:
    link_id = store.ensure_link(url)
    store.update_link(link_id, state=state, last_checked=when, state_since=when)
    return link_id


def test_due_links_follow_the_intervals_given_now(tmp_path: Path, database: str) -> None:
    from datetime import timedelta

    from archiver.config import CheckConfig
    from archiver.check.states import due_cutoffs
    from archiver.archive.store import parse_iso

    now = parse_iso("2026-11-30T12:00:00Z")
    with Store.open(tmp_path, database) as store:
        never = store.ensure_link("https://a.example/never")
        ok_old = _checked(store, "https://a.example/ok-8d", "ok", "2026-11-22T12:00:00Z")
        ok_new = _checked(store, "https://a.example/ok-2d", "ok", "2026-11-28T12:00:00Z")
        failing = _checked(store, "https://a.example/failing-3d", "failing", "2026-11-27T12:00:00Z")
        dead = _checked(store, "https://a.example/dead-10d", "dead", "2026-11-20T12:00:00Z")
        _checked(store, "https://a.example/excluded", "excluded", "2026-01-01T00:00:00Z")
        week = CheckConfig(recheck_after=7 * 86400, retry_failing_after=86400)
        assert [r["id"] for r in store.due_links(due_cutoffs(week, now))] == [never, dead, failing, ok_old]
        assert [r["id"] for r in store.due_links(due_cutoffs(week, now), limit=2)] == [never, dead]
        # the same links under other settings: nothing stored needs to change
        month = CheckConfig(recheck_after=30 * 86400, retry_failing_after=4 * 86400)
        assert [r["id"] for r in store.due_links(due_cutoffs(month, now))] == [never]
        daily = CheckConfig(recheck_after=86400, retry_failing_after=86400)
        assert {r["id"] for r in store.due_links(due_cutoffs(daily, now + timedelta(days=1)))} == {
            never, ok_old, ok_new, failing, dead}


def test_due_links_are_read_a_page_at_a_time_each_once_while_they_are_checked(
        tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check run reads its due links a page at a time (its memory stays flat in the number of links):
    each due link comes once, though the run checks them between pages (each then has a new last
    check and maybe a new state), and a link not due never comes."""
    from archiver.config import CheckConfig
    from archiver.check.states import due_cutoffs
    from archiver.archive.store import iso, parse_iso

    monkeypatch.setattr(Store, "PAGE", 2)
    now = parse_iso("2026-11-30T12:00:00Z")
    with Store.open(tmp_path, database) as store:
        never = [store.ensure_link(f"https://a.example/never-{i}") for i in range(3)]
        old = [_checked(store, "https://b.example/ok-20d", "ok", "2026-11-10T12:00:00Z"),
               _checked(store, "https://b.example/failing-3d", "failing", "2026-11-27T12:00:00Z"),
               _checked(store, "https://b.example/ok-9d-a", "ok", "2026-11-21T12:00:00Z"),
               _checked(store, "https://b.example/ok-9d-b", "ok", "2026-11-21T12:00:00Z"),
               _checked(store, "https://b.example/dead-8d", "dead", "2026-11-22T12:00:00Z")]
        _checked(store, "https://b.example/ok-2d", "ok", "2026-11-28T12:00:00Z")
        _checked(store, "https://b.example/excluded", "excluded", "2026-01-01T00:00:00Z")
        cutoffs = due_cutoffs(CheckConfig(recheck_after=7 * 86400, retry_failing_after=86400), now)
        listed = {row["id"] for row in store.due_links(cutoffs)}
        assert store.count_due(cutoffs) == len(listed) == 8
        seen = []
        for row in store.iter_due_links(cutoffs):
            assert set(row) == {"id", "url", "host", "state", "reason", "last_checked"}
            seen.append(row["id"])
            store.update_link(row["id"], state="failing", last_checked=iso(now))  # checked as the run goes
        assert seen == [*never, old[0], old[2], old[3], old[4], old[1]]  # never checked, then oldest check first
        assert store.count_due(cutoffs) == 0 and list(store.iter_due_links(cutoffs)) == []
        assert [row["id"] for row in store.iter_links()] == sorted(row["id"] for row in store.links())


def test_every_state_a_link_enters_is_logged_and_sweeps_mark_the_log(tmp_path: Path, database: str) -> None:
    from archiver.archive.store import parse_iso

    with Store.open(tmp_path, database) as store:
        first = store.ensure_link("https://a.example/1")
        sweep = store.start_sweep(parse_iso("2026-11-01T03:00:00Z"))
        store.update_link(first, state="ok", state_since="2026-11-01T03:01:00Z")
        store.finish_sweep(sweep, {}, parse_iso("2026-11-01T03:30:00Z"))
        # a check between sweeps, and a writer that changes the state without a check row
        store.update_link(first, state="failing", state_since="2026-11-02T10:00:00Z")
        second = store.ensure_link("https://a.example/2")
        store.update_link(second, state="excluded")
        row = store.sweeps()[0]
        assert store.states_at(row["states_before"]) == {first: "pending"}
        assert store.states_at(row["states_after"]) == {first: "ok"}
        assert store.states_at(store.state_mark()) == {first: "failing", second: "excluded"}
        assert store.report_states_before(parse_iso("2026-11-02T00:00:00Z")) == {first: "ok"}


def test_migration_rebuilds_the_state_history_of_an_existing_archive(tmp_path: Path) -> None:
    import sqlite_utils

    from archiver.archive import store as store_module

    before = store_module.MIGRATIONS.index(store_module._migrate_state_history)
    db = sqlite_utils.Database(sqlite3.connect(tmp_path / "archive.db"))
    for migration in store_module.MIGRATIONS[:before]:
        migration(db)
    db.execute(f"PRAGMA user_version = {before}")
    db.execute("INSERT INTO links (id, url, url_as_cited, host, state, state_since, first_seen, last_checked, "
               "next_check) VALUES (1, 'https://a.example/', 'https://a.example/', 'a.example', 'dead', "
               "'2026-11-03T03:05:00Z', '2026-10-30T00:00:00Z', '2026-11-03T03:05:00Z', '2026-11-10T03:05:00Z')")
    for n, (when, state) in enumerate((("2026-11-01T03:05:00Z", "ok"), ("2026-11-02T03:05:00Z", "failing"),
                                       ("2026-11-03T03:05:00Z", "dead")), 1):
        db.execute("INSERT INTO checks (id, link_id, checked_at, verdict, state) VALUES (?, 1, ?, 'x', ?)",
                   [n, when, state])
        db.execute("INSERT INTO sweeps (id, started_at, finished_at) VALUES (?, ?, ?)",
                   [n, when.replace("03:05", "03:00"), when.replace("03:05", "03:30")])
    db.execute("INSERT INTO texts VALUES ('sha1:STANDIN', NULL, '', NULL), ('sha1:REAL', 'T', 'words', 'sha1:f')")
    db.conn.commit()
    db.conn.close()
    with Store.open(tmp_path) as store:
        sweeps = store.sweeps()
        assert [store.states_at(s["states_after"]) for s in sweeps] == [{1: "ok"}, {1: "failing"}, {1: "dead"}]
        assert store.states_at(sweeps[0]["states_before"]) == {1: "pending"}
        assert store.link_by_id(1)["next_check"] is None
        assert store.text_for("sha1:STANDIN") is None  # an empty stand-in once stored over a cited text
        assert store.text_for("sha1:REAL") is not None


# -- both backends: the same answers from SQLite and PostgreSQL (SPEC §11) ----------------------------


def test_postgresql_store_from_a_newer_archiver_is_refused(tmp_path: Path, pg_url: str) -> None:
    with Store.open(tmp_path, pg_url) as store:
        store.db.execute("UPDATE schema_version SET version = ?", [SCHEMA_VERSION + 5])
    with pytest.raises(StoreError, match="newer than this archiver"):
        Store.open(tmp_path, pg_url)


def test_a_capture_its_records_checks_decisions_and_reports_read_back_alike(tmp_path: Path, database: str) -> None:
    from archiver.models import FetchResult, Hop, RecordLocation
    from archiver.archive.store import parse_iso

    when = parse_iso("2026-11-30T12:00:00Z")
    with Store.open(tmp_path, database) as store:
        assert store.add_citations("https://news.example/a", [_cite("https://b.example/Page?q=1"),
                                                             _cite("https://a.example/x", 3)], now=when) == (2, 0)
        store.record_source("https://news.example/a", "url", title="50% off: a title", now=when)
        link = store.link("https://b.example/Page?q=1")
        assert link is not None and link["host"] == "b.example" and link["state"] == "pending"
        hop = Hop(url="https://b.example/Page?q=1", method="GET", request_headers=(), http_version="HTTP/1.1",
                  status=200, reason="OK", response_headers=((b"Content-Type", b"text/html"),), started_at=when,
                  ip="127.0.0.1", body_length=5, payload_digest="sha1:AAA")
        result = FetchResult(url="https://b.example/Page?q=1", hops=[hop])
        locations = [RecordLocation(hop=0, record_type="request", url=hop.url, warc="W.warc.gz", offset=0,
                                    length=100, record_id="<urn:1>", date="2026-11-30T12:00:00Z"),
                     RecordLocation(hop=0, record_type="response", url=hop.url, warc="W.warc.gz", offset=100,
                                    length=250, record_id="<urn:2>", date="2026-11-30T12:00:00Z")]
        capture = store.record_capture(link["id"], result, locations)
        assert capture > 0 and store.recorded_end("W.warc.gz") == 350 and store.recorded_end("other") == 0
        assert store.capture(capture)["offset"] == 100
        assert [r["record_type"] for r in store.records(capture)] == ["request", "response"]
        assert store.last_response_capture(link["id"])["id"] == capture
        check = store.record_check(link["id"], checked_at=when, verdict="ok", reason=None, state="ok",
                                   http_status=200, similarity=0.5, capture_id=capture,
                                   link_updates={"state": "ok", "cited_capture_id": capture, "similarity": 0.5})
        assert store.check(check)["similarity"] == 0.5
        store.save_text("sha1:AAA", "Title", "the text", None)
        store.save_text("sha1:AAA", "Title 2", "the text", None, sketch="s")
        store.save_text("sha1:AAA", "Title 3", "the text", None)
        assert (store.text_for("sha1:AAA")["title"], store.text_for("sha1:AAA")["sketch"]) == ("Title 3", "s")
        decision = store.add_decision({"link_id": link["id"], "decision": "note", "note": "100%",
                                       "decided_by": "me", "decided_at": "2026-11-30T13:00:00Z"})
        assert store.decisions(link_id=link["id"], host="b.example")[0]["id"] == decision
        assert store.count_by_state() == {"ok": 1, "pending": 1}
        assert store.links_without_capture() == [(store.link("https://a.example/x")["id"], "https://a.example/x")]
        # SQLite's LIKE ignores ASCII case, and `%` / `_` in the text are literal
        assert store.find_links(text="PAGE?Q")[0] == 1 and store.find_links(text="50%")[0] == 2
        assert store.find_links(text="5_%")[0] == 0
        assert [row["url"] for row in store.report_links()] == ["https://a.example/x", "https://b.example/Page?q=1"]
        citations = list(store.report_all_citations())
        assert [c["source_title"] for c in citations] == ["50% off: a title"] * 2 and not citations[0]["removed"]
        assert [c["title"] for c in store.report_cited_captures()] == ["Title 3"]
        assert next(store.report_captures([capture]))["record_date"] == "2026-11-30T12:00:00Z"
        assert store.states_at(store.state_mark())[link["id"]] == "ok"


def test_hosts_are_leased_to_one_worker_until_released_or_expired(tmp_path: Path, database: str) -> None:
    from datetime import timedelta

    from archiver.archive.store import parse_iso

    now = parse_iso("2026-11-30T12:00:00Z")
    later = now + timedelta(seconds=60)
    with Store.open(tmp_path, database) as store:
        for url in ("https://a.example/1", "https://a.example/2", "https://b.example/1", "https://c.example/1"):
            store.ensure_link(url)
        done = _checked(store, "https://d.example/ok", "ok", "2026-11-30T11:00:00Z")  # nothing due on d
        store.update_link(done, cited_capture_id=1)
        cutoffs = {"ok": now - timedelta(days=7), "pending": now - timedelta(days=7)}
        claim = dict(now=now, lease_until=later, released_before=now)
        assert store.claim_hosts("w1", cutoffs, limit=2, **claim) == []  # no host known yet
        store.add_host_leases()
        assert store.claim_hosts("w1", cutoffs, limit=2, **claim) == ["a.example", "b.example"]
        assert store.claim_hosts("w2", cutoffs, limit=5, **claim) == ["c.example"]
        assert store.claim_hosts("w3", cutoffs, limit=5, **claim) == []
        new, due = store.work_on_hosts(["a.example"], cutoffs)
        assert [url for _, url in new] == ["https://a.example/1", "https://a.example/2"] and due == []
        # w1 releases a.example: not claimed again before the host's delay has passed
        store.release_hosts("w1", ["a.example"], now)
        assert store.claim_hosts("w3", cutoffs, limit=5, now=now, lease_until=later,
                                 released_before=now - timedelta(seconds=1)) == []
        assert store.claim_hosts("w3", cutoffs, limit=5, **claim) == ["a.example"]
        # w2 dies: its lease is renewed no more; once expired, c.example is another's
        assert store.beat("w1", now, later, captures=1, checks=0) == 1  # b.example
        expired = later + timedelta(seconds=1)
        assert store.claim_hosts("w1", cutoffs, limit=5, now=expired, lease_until=expired + timedelta(seconds=60),
                                 released_before=expired) == ["a.example", "b.example", "c.example"]
        assert [row["host"] for row in store.stale_leases(expired)] == []


def test_workers_claiming_at_once_get_different_hosts(tmp_path: Path, pg_url: str) -> None:
    """FOR UPDATE SKIP LOCKED: a claim in progress neither blocks another nor hands it the same hosts."""
    from datetime import timedelta

    from archiver.archive.store import utcnow

    with Store.open(tmp_path, pg_url) as first, Store.open(tmp_path, pg_url) as second:
        for n in range(6):
            first.ensure_link(f"https://h{n}.example/")
        now = utcnow()
        claim = dict(now=now, lease_until=now + timedelta(seconds=60), released_before=now)
        first.add_host_leases()
        with first.atomic():  # w1's claim is not committed yet ...
            mine = first.claim_hosts("w1", {}, limit=3, **claim)
            started = time.monotonic()
            theirs = second.claim_hosts("w2", {}, limit=6, **claim)  # ... and w2 neither waits nor overlaps
            assert time.monotonic() - started < 2
        assert len(mine) == 3 and len(theirs) == 3 and not set(mine) & set(theirs)


def test_a_lost_postgresql_connection_is_opened_again(tmp_path: Path, pg_url: str) -> None:
    """A connection dropped between two calls (a server restart, a failover) costs a retry, not the run;
    one dropped inside a transaction fails that transaction whole, and the next call reconnects."""
    import psycopg

    with Store.open(tmp_path, pg_url) as store:
        first = store.ensure_link("https://a.example/1")

        def drop() -> None:
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                              "current_database() AND pid <> pg_backend_pid()")

        drop()
        assert store.link_by_id(first)["url"] == "https://a.example/1"
        with pytest.raises(psycopg.OperationalError):
            with store.atomic():
                store.ensure_link("https://a.example/2")
                drop()
                store.ensure_link("https://a.example/3")
        assert [link["url"] for link in store.links()] == ["https://a.example/1"]  # nothing half-recorded


def test_what_the_store_writes_is_committed_at_once(tmp_path: Path, database: str) -> None:
    """Another reader (the workbench, a report, a worker) sees a saved text and a finished sweep at
    once, and a kill after them loses neither."""
    from archiver.archive.store import parse_iso

    with Store.open(tmp_path, database) as store, Store.open(tmp_path, database) as reader:
        store.save_text("sha1:T", "Title", "words", None)
        sweep = store.start_sweep(parse_iso("2026-11-30T03:00:00Z"))
        store.finish_sweep(sweep, {"n": 1}, parse_iso("2026-11-30T03:10:00Z"))
        assert reader.text_for("sha1:T") is not None
        assert reader.sweeps()[-1]["finished_at"] == "2026-11-30T03:10:00Z"
