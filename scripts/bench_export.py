"""Benchmark ``archiver export --wacz`` over a synthetic archive of 10,000 links.

    .venv/bin/python scripts/bench_export.py [--links 10000] [--keep DIR] [--no-validate]

The world is written through the real archive code (``Archive.write`` / ``record``, WARC
files, CDXJ index, database): every link has a cited copy (an HTML page of 6-12 KB of
text) and one check: 70% identical (a revisit record), 10% changed (a new response), 10%
gone (a 404 page) and 10% moved (a 301 then the page), with states to match. The script
times the export (wall and CPU: the machine may be shared) of every link and of the dead and
changed ones, measures the peak of
Python allocations (tracemalloc; a second, smaller export shows it does not grow with the
number of records), and runs ``wacz validate`` on the full package.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.archive import WARC_DIR, Archive  # noqa: E402
from archiver.config import ArchiveConfig, Config, ExternalConfig  # noqa: E402
from archiver.export.wacz import Selection, export_wacz  # noqa: E402
from archiver.capture.fetch import _BodySink  # noqa: E402
from archiver.models import FetchResult, Hop  # noqa: E402
from archiver.archive.store import Store  # noqa: E402

WORDS = ("council budget ministry report figures year said according officials agreement talks leaders court "
         "ruling election results statement press conference analysts warned government minister").split()
START = datetime(2026, 10, 1, 3, 0, tzinfo=UTC)


def _page(rng: random.Random, title: str) -> bytes:
    words = rng.randint(900, 1800)
    text = " ".join(rng.choices(WORDS, k=words))
    return f"<html><head><title>{title}</title></head><body><article><p>{text}</p></article></body></html>".encode()


def _hop(temp: Path, n: int, url: str, status: int, body: bytes, when: datetime,
         headers: tuple[tuple[bytes, bytes], ...] = ()) -> Hop:
    sink = _BodySink(temp / f"body-{n}", 10**8)
    sink.write(body)
    sink.close()
    return Hop(url=url, method="GET", request_headers=((b"Host", url.split("/")[2].encode()),),
               http_version="HTTP/1.1", status=status, reason="OK" if status == 200 else "Other",
               response_headers=((b"Content-Type", b"text/html; charset=utf-8"), *headers), started_at=when,
               ip="192.0.2.1", body_path=sink.path, body_length=sink.length, payload_digest=sink.digest)


def _check_for(temp: Path, rng: random.Random, n: int, url: str, page: bytes, when: datetime,
               serial: int) -> tuple[FetchResult, str, str]:
    fate = n % 10
    if fate < 7:
        return FetchResult(url=url, hops=[_hop(temp, serial, url, 200, page, when)]), "ok", "unchanged"
    if fate == 7:
        body = _page(rng, f"Story {n}")
        return FetchResult(url=url, hops=[_hop(temp, serial, url, 200, body, when)]), "changed", "drift"
    if fate == 8:
        gone = b"<html><h1>Not Found</h1></html>"
        return FetchResult(url=url, hops=[_hop(temp, serial, url, 404, gone, when)]), "dead", "http-404"
    target = url + "-moved"
    hops = [_hop(temp, serial, url, 301, b"", when, ((b"Location", target.encode()),)),
            _hop(temp, serial + 1, target, 200, page, when + timedelta(milliseconds=80))]
    return FetchResult(url=url, hops=hops), "moved", "redirect"


def build(config: Config, count: int, seed: int = 11, batch: int = 500) -> None:
    """Cited copies, then one check each, written and recorded a batch at a time (one fsync per batch)."""
    rng = random.Random(seed)
    serial = 0
    with Archive(config) as archive:
        store, temp = archive.store, archive.temp_dir
        for first in range(0, count, batch):
            numbers = range(first, min(count, first + batch))
            cited = []
            for n in numbers:
                url = f"https://site{n % 400}.example/2026/story-{n}"
                link_id = store.ensure_link(url, url, now=START)
                page = _page(rng, f"Story {n}")
                serial += 2
                result = FetchResult(url=url, hops=[_hop(temp, serial, url, 200, page, START + timedelta(seconds=n))])
                cited.append((n, link_id, url, page, result, archive.write(link_id, result, sync=False)))
            archive.writer.sync()
            with store.atomic():
                for _, link_id, _, _, result, written in cited:
                    saved = archive.record(link_id, result, written)
                    store.update_link(link_id, cited_capture_id=saved.capture_id, latest_capture_id=saved.capture_id)
                    result.cleanup()
            checks = []
            for n, link_id, url, page, _, _ in cited:
                serial += 2
                when = START + timedelta(days=30, seconds=n)
                result, state, reason = _check_for(temp, rng, n, url, page, when, serial)
                checks.append((link_id, result, state, reason, archive.write(link_id, result, sync=False)))
            archive.writer.sync()
            with store.atomic():
                for link_id, result, state, reason, written in checks:
                    saved = archive.record(link_id, result, written)
                    moment = result.hops[0].started_at
                    store.record_check(link_id, checked_at=moment, verdict=state, reason=reason, state=state,
                                       capture_id=saved.capture_id,
                                       link_updates={"state": state, "reason": reason,
                                                     "latest_capture_id": saved.capture_id,
                                                     "state_since": moment.strftime("%Y-%m-%dT%H:%M:%SZ")})
                    result.cleanup()


def timed_export(config: Config, out: Path, selection: Selection, *,
                 memory: bool) -> tuple[float, float, int, object]:
    """(wall seconds, CPU seconds of this process, peak traced bytes, summary) of one export."""
    if memory:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    with Store.open(config.archive.dir) as store:
        summary = export_wacz(store, config.archive.dir / WARC_DIR, out, selection)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = 0
    if memory:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return seconds, cpu, peak, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--keep", metavar="DIR", help="build the archive in DIR and keep it")
    parser.add_argument("--no-validate", action="store_true", help="skip `wacz validate` (slow for big packages)")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-export-"))
    work.mkdir(parents=True, exist_ok=True)
    config = replace(Config(), archive=ArchiveConfig(dir=work / "archives"),
                     external=ExternalConfig(archives=(), lookup=False))
    try:
        if not (config.archive.dir / "archive.db").exists():
            started = time.perf_counter()
            build(config, args.links)
            print(f"built {args.links} links in {time.perf_counter() - started:.1f}s")
        warcs = sum(p.stat().st_size for p in (config.archive.dir / WARC_DIR).glob("*.warc.gz"))
        print(f"archive: {warcs / 1e6:.1f} MB of WARCs")
        runs = [("every link", Selection(), work / "all.wacz"),
                ("dead,changed", Selection(states=("dead", "changed")), work / "dead-changed.wacz")]
        for label, selection, out in runs:
            seconds, cpu, _, summary = timed_export(config, out, selection, memory=False)
            _, _, peak, _ = timed_export(config, out, selection, memory=True)
            print(f"export {label:<13} {summary.pages:>6} pages  {summary.records:>6} records  "  # type: ignore[attr-defined]
                  f"{summary.bytes / 1e6:6.1f} MB  {seconds:6.2f} s wall  {cpu:6.2f} s CPU  "
                  f"peak Python memory {peak / 1e6:5.1f} MB")
        if not args.no_validate:
            started = time.perf_counter()
            done = subprocess.run([str(Path(sys.executable).parent / "wacz"), "validate", "-f", str(work / "all.wacz")],
                                  capture_output=True, text=True)
            verdict = "valid" if done.returncode == 0 and "is valid" in done.stdout else "INVALID"
            print(f"wacz validate all.wacz: {verdict} ({time.perf_counter() - started:.1f}s)")
            if verdict != "valid":
                print(done.stdout[-2000:], done.stderr[-2000:])
                return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
