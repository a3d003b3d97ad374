#!/usr/bin/env python3
"""Scaling of `archiver worker` on a PostgreSQL archive (SPEC §11): throughput with 1, 2 and 4 workers.

A private PostgreSQL server (initdb in a temporary directory, as tests/postgres.py does) and the
simulated web (scripts/simweb.py: many hosts, a fixed latency). For each worker count: a new
database, every URL cited, N `archiver worker --once` processes started together; the wall time
until the last exits gives captures per second, reported as a ratio to one worker. The server logs
every statement (log_statement = all), so the database's load is measured as statements per captured
link, the figure that bounds how many workers one PostgreSQL server can feed.

    .venv/bin/python scripts/bench_workers.py --hosts 40 --urls 240 --latency 0.05
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from simweb import SimWeb, bench_world  # noqa: E402

from archiver.collect.normalize import normalize_url  # noqa: E402
from archiver.archive.store import CitationInput, Store  # noqa: E402
from tests.postgres import PgServer, _bin_dir  # noqa: E402

STATEMENT = re.compile(r"LOG:  (statement|execute [^:]*):")


def _config(path: Path, archive: Path, database: str, per_host: int) -> Path:
    path.write_text(
        f'[archive]\ndir = {json.dumps(str(archive))}\ndatabase = {json.dumps(database)}\n\n'
        f'[fetch]\nallow_private_networks = true\nper_host_concurrency = {per_host}\nper_host_delay = "0s"\n'
        'retries = 0\n\n[external]\narchives = []\nlookup = false\nsubmit = false\n')
    return path


def _statements(log: Path) -> int:
    with open(log, errors="replace") as lines:
        return sum(1 for line in lines if STATEMENT.search(line))


def run(server: PgServer, web: SimWeb, workdir: Path, workers: int, per_host: int) -> dict[str, float]:
    database = server.new_database()
    archive = workdir / f"archive-{workers}"
    config = _config(workdir / f"config-{workers}.toml", archive, database, per_host)
    urls = web.page_urls()
    with Store.open(archive, database) as store:
        store.add_citations("bench", [CitationInput(url=normalize_url(u), url_as_written=u, source="bench",
                                                    place="body") for u in urls])
    before = _statements(server.dir / "server.log")
    started = time.monotonic()
    processes = [subprocess.Popen([sys.executable, "-m", "archiver", "-q", "--config", str(config), "worker",
                                   "--once"], stderr=subprocess.PIPE) for _ in range(workers)]
    for process in processes:
        _, err = process.communicate()
        if process.returncode:
            raise SystemExit(f"a worker failed: {err.decode(errors='replace')}")
    seconds = time.monotonic() - started
    time.sleep(0.5)  # the server's log catches up
    statements = _statements(server.dir / "server.log") - before
    with Store.open(archive, database) as store:
        captured = sum(store.count_by_state().values()) - store.count_by_state().get("pending", 0)
    return {"workers": workers, "seconds": round(seconds, 2), "captured": captured,
            "per_second": round(captured / seconds, 2), "statements": statements,
            "statements_per_link": round(statements / max(captured, 1), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=40)
    parser.add_argument("--urls", type=int, default=240)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds before every answer")
    parser.add_argument("--per-host-concurrency", type=int, default=2)
    parser.add_argument("--workers", default="1,2,4", help="worker counts to measure")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL's binaries are not installed (setup.sh installs Debian's postgresql)")
    server = PgServer(bin_dir, settings=("log_statement=all", "log_min_duration_statement=-1"))
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as temp:
            workdir = Path(temp)
            world = bench_world(hosts=args.hosts, urls=args.urls, latency=args.latency)
            results = []
            with SimWeb(world, workdir / "web") as web:
                for count in (int(n) for n in args.workers.split(",")):
                    results.append(run(server, web, workdir, count, args.per_host_concurrency))
                    print(json.dumps(results[-1]), flush=True)
    finally:
        server.stop()
    base = results[0]["per_second"]
    print(f"\n{args.urls} links on {args.hosts} hosts, latency {args.latency:g}s, "
          f"per_host_concurrency {args.per_host_concurrency}")
    print("workers  seconds  links/s  ratio  statements/link")
    for row in results:
        print(f"{row['workers']:>7}  {row['seconds']:>7}  {row['per_second']:>7}  "
              f"{row['per_second'] / base:>5.2f}  {row['statements_per_link']:>15}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
