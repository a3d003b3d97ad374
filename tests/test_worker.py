"""`archiver worker` on a PostgreSQL archive (SPEC §11): many workers, one frontier, real processes.

Three worker processes capture a simulated web of many hosts: every link once, per-host limits
held across workers (the server's own request log), then one worker is killed with SIGKILL mid-round
and the others take its hosts over when its leases expire: nothing lost, nothing recorded twice,
every WARC file valid, the CDXJ index consistent.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from archiver.collect.normalize import normalize_url
from archiver.archive.store import CitationInput, Store

ROOT = Path(__file__).resolve().parents[1]
SIMWEB = ROOT / "scripts" / "simweb.py"
PER_HOST_DELAY = 0.15
LEASE = 3.0  # seconds, in the round where a worker is killed (renewed every LEASE / 3)


def _simweb() -> ModuleType:
    spec = importlib.util.spec_from_file_location("simweb", SIMWEB)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["simweb"] = module
    spec.loader.exec_module(module)
    return module


def _config(path: Path, archive: Path, database: str) -> Path:
    path.write_text(
        f'[archive]\ndir = {json.dumps(str(archive))}\ndatabase = {json.dumps(database)}\n\n'
        '[fetch]\nallow_private_networks = true\nper_host_concurrency = 1\n'
        f'per_host_delay = "{PER_HOST_DELAY}s"\nretries = 0\nconnect_timeout = "3s"\nread_timeout = "3s"\n\n'
        '[external]\narchives = []\nlookup = false\nsubmit = false\n'
    )
    return path


def _cite(archive: Path, database: str, urls: list[str]) -> None:
    with Store.open(archive, database) as store:
        store.add_citations("articles/a.html", [CitationInput(url=normalize_url(u), url_as_written=u,
                                                              source="articles/a.html", place="body") for u in urls])


def _workers(config: Path, count: int, *extra: str) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config), "worker", "--once",
                              "--hosts", "2", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(count)]


def _log(path: Path) -> list[tuple[float, float, str, str]]:
    rows = []
    for line in path.read_text().splitlines():
        start, end, ip, _method, target = line.split(" ", 4)
        if target != "/robots.txt":
            rows.append((float(start), float(end), ip, target))
    return rows


def _assert_polite(log: list[tuple[float, float, str, str]], worker_of: dict[str, str], killed: str = "") -> int:
    """Across workers: one request at a time per host (per_host_concurrency = 1), and a host handed from
    one worker to another only PER_HOST_DELAY after the last request (within one worker, spacing is the
    fetcher's, tested with it)."""
    by_host: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    twice = {target for target, n in Counter(target for *_, target in log).items() if n > 1}
    seen: set[str] = set()
    for start, end, ip, target in sorted(log):
        # a path fetched twice: first by the killed worker (never recorded), then by the one that recorded it
        first_of_two = target in twice and target not in seen
        by_host[ip].append((start, end, killed if first_of_two else worker_of.get(target, "?")))
        seen.add(target)
    handovers = 0
    for ip, spans in by_host.items():
        spans.sort()
        for (_, end, worker), (next_start, _, next_worker) in zip(spans, spans[1:], strict=False):
            assert next_start >= end - 0.005, f"{ip}: two requests at once"
            if worker != next_worker:
                handovers += 1
                assert next_start - end >= PER_HOST_DELAY - 0.01, f"{ip}: handed over {next_start - end:.3f}s after"
                if killed and worker == killed:  # taken over only once the killed worker's lease expired
                    assert next_start - end >= LEASE * 2 / 3 - 0.5, f"{ip}: taken over {next_start - end:.3f}s after"
    return handovers  # requests to a host by another worker than the one before


def _mid_host(archive: Path, database: str, pid: int) -> tuple[str, set[str]]:
    """Wait until the worker with ``pid`` holds a host some of whose links it has captured and some not;
    its id and the hosts it holds."""
    deadline = time.monotonic() + 120
    with Store.open(archive, database) as store:
        while time.monotonic() < deadline:
            worker = next((row["id"] for row in store.worker_rows() if row["pid"] == pid), None)
            if worker is not None:
                held = {str(row[0]) for row in store.db.execute(
                    "SELECT host FROM host_leases WHERE worker = ?", [worker]).fetchall()}
                for host in held:
                    done, left = store.db.execute(
                        "SELECT (SELECT count(*) FROM captures c JOIN links l ON l.id = c.link_id WHERE l.host = ? "
                        "AND c.warc LIKE ?), (SELECT count(*) FROM links WHERE host = ? AND cited_capture_id IS NULL)",
                        [host, f"WORKER-{worker}-%", host]).fetchone()
                    if done >= 1 and left >= 3:
                        return str(worker), held
            time.sleep(0.02)
    raise AssertionError("the worker never got mid-way through a host")


def _worker_of(captures: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The worker that wrote each path's capture (its id is in the WARC file's name)."""
    return {"/" + url.split("/", 3)[3]: rows[-1]["warc"].split("-")[1] for url, rows in captures.items() if rows}


def _captures(archive: Path, database: str) -> dict[str, list[dict[str, Any]]]:
    with Store.open(archive, database) as store:
        out: dict[str, list[dict[str, Any]]] = {}
        for link in store.links():
            out[link["url"]] = store.captures_for(link["id"])
        return out


def _warcio_check(warcs: Path) -> None:
    files = sorted(warcs.rglob("*.warc.gz"))
    assert files and not list(warcs.rglob("*.open"))
    checked = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", *map(str, files)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _index_consistent(warcs: Path) -> None:
    indexed = {json.loads(line.split(" ", 2)[2])["filename"] for line in (warcs / "index.cdxj").read_text().splitlines()}
    on_disk = {p.name for p in warcs.glob("*.warc.gz")}
    assert indexed <= on_disk
    assert {p for p in on_disk if p.startswith("WORKER-")} <= indexed


@pytest.mark.slow
def test_three_workers_share_the_work_and_survive_a_killed_one(tmp_path: Path, pg_url: str) -> None:
    simweb = _simweb()
    world = simweb.bench_world(hosts=10, urls=150, latency=0.03)
    log_path = tmp_path / "requests.log"
    archive = tmp_path / "archive"
    config = _config(tmp_path / "config.toml", archive, pg_url)
    with simweb.SimWeb(world, tmp_path / "web", log=log_path) as web:
        urls = web.page_urls()
        first, second = urls[:60], urls[60:]
        # round 1: three workers, every link captured exactly once, politeness across workers
        _cite(archive, pg_url, first)
        workers = _workers(config, 3)
        for process in workers:
            _, err = process.communicate(timeout=240)
            assert process.returncode == 0, err.decode()
        log = _log(log_path)
        fetched = Counter(f"http://{ip}:{web.port}{target}" for _, _, ip, target in log)
        assert fetched == Counter({url: 1 for url in first})
        captures = _captures(archive, pg_url)
        assert _assert_polite(log, _worker_of(captures)) == 0  # a host is one worker's until its links are done
        assert all(len(rows) == 1 and rows[0]["kind"] == "response" for rows in captures.values())
        assert len({rows[0]["warc"].split("-")[1] for rows in captures.values()}) == 3  # all three worked

        # round 2: one worker is killed mid-round; the others take its hosts over after its lease
        log_path.write_text("")
        _cite(archive, pg_url, second)
        workers = _workers(config, 3, "--lease", str(LEASE))
        victim = workers[0]
        killed, held = _mid_host(archive, pg_url, victim.pid)  # it has captured some of a host's links, not all
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        for process in workers[1:]:
            _, err = process.communicate(timeout=240)
            assert process.returncode == 0, err.decode()
        log = _log(log_path)
        fetched = Counter(f"http://{ip}:{web.port}{target}" for _, _, ip, target in log)
        assert set(fetched) == set(second)  # nothing lost ...
        again = [url for url, n in fetched.items() if n > 1]
        # ... only what the killed worker had fetched but not recorded is fetched again: on its hosts
        assert {url.split("/")[2].split(":")[0] for url in again} <= held
        captures = _captures(archive, pg_url)
        assert _assert_polite(log, _worker_of(captures), killed) >= 1  # the killed worker's hosts were taken over
        assert all(len(rows) == 1 and rows[0]["kind"] == "response" for rows in captures.values()), \
            [url for url, rows in captures.items() if len(rows) != 1]  # ... nor recorded twice
    _warcio_check(archive / "warcs")
    _index_consistent(archive / "warcs")
    # what the killed worker wrote and never recorded is kept aside, never in the archive twice
    from warcio.archiveiterator import ArchiveIterator

    orphaned = set()
    for path in (archive / "warcs").glob("orphaned/*.warc.gz"):
        with open(path, "rb") as stream:
            orphaned |= {r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)
                         if r.rec_type == "response"}
    assert orphaned <= set(again)


# -- the commands around it ----------------------------------------------------------------------------

PAGE = "<html><head><title>A cited page</title></head><body><article><p>" + "Words that matter. " * 40 + \
    "</p></article></body></html>"


def _cli(config: Path, *args: str) -> Any:
    from click.testing import CliRunner

    from archiver.cli import cli

    return CliRunner().invoke(cli, ["--config", str(config), *args])


def _report(config: Path) -> dict[str, Any]:
    result = _cli(config, "report", "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_migrate_copies_an_archive_whose_report_reads_the_same(tmp_path: Path, pg_url: str, server: Any) -> None:
    good, gone = server.route("/pg/good", PAGE), server.route("/pg/gone", PAGE)
    article = tmp_path / "article.txt"
    article.write_text(f"See {good} and {gone} (50% of it).\n")
    settings = (f'[[sources]]\npath = {json.dumps(str(article))}\n\n[fetch]\nallow_private_networks = true\n'
                'per_host_delay = "0s"\nretries = 0\n\n[external]\narchives = []\nlookup = false\n')
    sqlite_config = tmp_path / "sqlite.toml"
    sqlite_config.write_text(f'[archive]\ndir = {json.dumps(str(tmp_path / "archive"))}\n\n' + settings)
    assert _cli(sqlite_config, "sweep", "--no-report").exit_code == 0
    del server.routes["/pg/gone"]
    assert _cli(sqlite_config, "check", "--all").exit_code == 0  # a second check: history, a 404's evidence
    before = _report(sqlite_config)
    assert len(before["links"]) == 2

    result = _cli(sqlite_config, "migrate", "--to", pg_url)
    assert result.exit_code == 0, result.output
    assert "links 2" in result.output
    pg_config = tmp_path / "pg.toml"
    pg_config.write_text(f'[archive]\ndir = {json.dumps(str(tmp_path / "archive"))}\n'
                         f'database = {json.dumps(pg_url)}\n\n' + settings)
    after = _report(pg_config)
    before.pop("generated_at", None), after.pop("generated_at", None)
    assert after == before
    # the copy goes on as an archive: a new capture gets the next id, the state log goes on
    assert _cli(pg_config, "snapshot", server.route("/pg/new", PAGE)).exit_code == 0
    assert _cli(pg_config, "links", "--state", "ok").output.count("/pg/") == 2
    # export reads the shared database as it reads archive.db
    exported = _cli(pg_config, "export", "--wacz", str(tmp_path / "out.wacz"))
    assert exported.exit_code == 0 and (tmp_path / "out.wacz").stat().st_size > 0, exported.output
    # a second copy into a database that is not empty is refused, nothing changed
    again = _cli(sqlite_config, "migrate", "--to", pg_url)
    assert again.exit_code != 0 and "not empty" in again.output


def test_worker_and_workers_need_a_postgresql_archive(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[archive]\ndir = "a"\n')
    for command in (["worker", "--once"], ["workers"]):
        result = _cli(config, *command)
        assert result.exit_code == 2 and "postgresql://" in result.output


def test_workers_lists_live_workers_and_stale_leases(tmp_path: Path, pg_url: str) -> None:
    from datetime import timedelta

    from archiver.archive.store import utcnow

    config = tmp_path / "config.toml"
    config.write_text(f'[archive]\ndir = {json.dumps(str(tmp_path / "a"))}\ndatabase = {json.dumps(pg_url)}\n')
    _cite(tmp_path / "a", pg_url, ["https://one.example/a", "https://two.example/b"])
    now = utcnow()
    with Store.open(tmp_path / "a", pg_url) as store:
        store.register_worker("w1", "box-1", 11, now - timedelta(minutes=2))
        store.register_worker("w2", "box-2", 22, now - timedelta(minutes=2))
        cutoffs: dict[str, Any] = {}
        store.add_host_leases()
        assert store.claim_hosts("w1", cutoffs, limit=1, now=now, lease_until=now + timedelta(seconds=60),
                                 released_before=now) == ["one.example"]
        assert store.claim_hosts("w2", cutoffs, limit=5, now=now, lease_until=now - timedelta(seconds=1),
                                 released_before=now) == ["two.example"]  # w2 then died: its lease ran out
        store.beat("w1", now, now + timedelta(seconds=60), captures=30, checks=0)
    result = _cli(config, "workers", "--format", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    by_id = {row["id"]: row for row in shown["workers"]}
    assert by_id["w1"]["alive"] and by_id["w1"]["leases"] == 1 and by_id["w1"]["captures_per_minute"] == 15
    assert not by_id["w2"]["alive"]
    assert [(lease["host"], lease["worker"]) for lease in shown["stale_leases"]] == [("two.example", "w2")]
    text = _cli(config, "workers").output
    assert "stale lease: two.example held by w2" in text and "w1  box-1" in text


def _sweep_config(tmp_path: Path, pg_url: str, url: str) -> Path:
    """A sweep's config on the PostgreSQL archive ``tmp_path/a``, its one source an article citing ``url``."""
    article = tmp_path / "article.txt"
    article.write_text(f"See {url}.\n")
    config = tmp_path / "config.toml"
    config.write_text(f'[archive]\ndir = {json.dumps(str(tmp_path / "a"))}\ndatabase = {json.dumps(pg_url)}\n\n'
                      f'[[sources]]\npath = {json.dumps(str(article))}\n\n[fetch]\nallow_private_networks = true\n'
                      '\n[external]\narchives = []\nlookup = false\n')
    return config


def test_sweep_leaves_capture_to_live_workers_and_does_it_without_them(tmp_path: Path, pg_url: str,
                                                                         server: Any) -> None:
    from archiver.archive.store import utcnow

    config = _sweep_config(tmp_path, pg_url, server.route('/pg/sweep', PAGE))
    with Store.open(tmp_path / "a", pg_url) as store:
        store.register_worker("w1", "box-1", 11, utcnow())
    result = _cli(config, "sweep", "--no-report")
    assert result.exit_code == 0, result.output
    assert "capture and check are theirs" in result.output and "captured: 0" in result.output
    with Store.open(tmp_path / "a", pg_url) as store:
        assert store.count_by_state() == {"pending": 1}
        store.stop_worker("w1", utcnow())
    result = _cli(config, "sweep", "--no-report")
    assert result.exit_code == 0 and "captured: 1" in result.output, result.output
    with Store.open(tmp_path / "a", pg_url) as store:
        assert store.count_by_state() == {"ok": 1}


def test_a_sweep_leases_the_hosts_it_fetches_as_a_worker_would(tmp_path: Path, pg_url: str,
                                                                 make_server: Any) -> None:
    """Without live workers a sweep captures and checks itself; it holds a lease on every host it works
    on meanwhile, so an `archiver worker` started during the sweep leaves those hosts alone (two
    processes on one host would break its politeness and capture a new link twice)."""
    from archiver.archive.store import utcnow

    from .server import Route, respond

    site = make_server()
    held: list[list[dict[str, Any]]] = []

    def page(req: Any) -> None:  # what the archive says of this host while the sweep fetches from it
        with Store.open(tmp_path / "a", pg_url) as store:
            held.append(list(store._rows("SELECT l.worker, w.stopped_at FROM host_leases l "
                                         "LEFT JOIN workers w ON w.id = l.worker WHERE l.host = ?", [site.host])))
        respond(req, 200, PAGE.encode())

    site.routes["/pg/leased"] = Route(handler=page)
    config = _sweep_config(tmp_path, pg_url, site.url('/pg/leased'))
    result = _cli(config, "sweep", "--no-report")
    assert result.exit_code == 0 and "captured: 1" in result.output, result.output
    assert len(held) == 1 and len(held[0]) == 1 and held[0][0]["worker"] and held[0][0]["stopped_at"] is None
    with Store.open(tmp_path / "a", pg_url) as store:  # released at the end, its registration stopped
        [lease] = list(store._rows("SELECT worker, released_at FROM host_leases WHERE host = ?", [site.host]))
        assert lease["worker"] is None and lease["released_at"]
        assert store.live_workers(utcnow(), 120) == 0
        assert store.count_by_state() == {"ok": 1}


@pytest.mark.parametrize("command", ["worker", "workers", "migrate"])
def test_the_commands_have_help_with_an_example(command: str) -> None:
    from click.testing import CliRunner

    from archiver.cli import cli

    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Example" in result.output and "archiver" in result.output


def test_sigterm_stops_a_worker_that_releases_its_hosts(tmp_path: Path, pg_url: str) -> None:
    from archiver.archive.store import utcnow

    archive = tmp_path / "archive"
    config = _config(tmp_path / "config.toml", archive, pg_url)
    _cite(archive, pg_url, ["https://nowhere.invalid/"])  # a host whose capture fails at once, then nothing due
    process = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config), "worker", "--poll", "0.2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    with Store.open(archive, pg_url) as store:
        while not any(row["pid"] == process.pid for row in store.worker_rows()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, err.decode()
        assert b"stopped (SIGTERM)" in err
        assert store.worker_rows() == [] and store.stale_leases(utcnow()) == []
        assert store.count_by_state() != {"pending": 1}  # it worked before it stopped
