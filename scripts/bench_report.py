"""Benchmark report generation over a synthetic 10,000-link archive.

    .venv/bin/python scripts/bench_report.py [--links 10000] [--keep DIR]

The world: 400 articles citing links in their body and comments (contexts of
one or two sentences), two sweeps, three checks per link, a WARC location per
capture, and 4% ``changed`` links whose cited and live main texts (3-6 KB) are
diffed; texts carry curly quotes and accents like real news pages. For each
format it times ``build_report`` + ``write_report`` to a file (what ``sweep``
and ``archiver report -o`` do; best of 3), measures the peak of Python
allocations (tracemalloc, one run) and the output size; targets: under 5 s and
under 20 MB. It also shows ``render()`` to one string, whose peak includes the
whole text. The baseline, timed in the same run, is ``json.dumps`` of the raw
``links`` and ``citations`` rows.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.report import FORMATS, build_report, render, write_report  # noqa: E402
from archiver.archive.store import Store, iso  # noqa: E402

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
SWEEPS = (NOW - timedelta(days=1, hours=1), NOW - timedelta(hours=1))
STATES = [("ok", 78), ("changed", 4), ("dead", 6), ("failing", 3), ("moved", 3), ("blocked", 3),
          ("excluded", 1), ("pending", 2)]
REASONS = {"ok": "unchanged", "changed": "drift", "dead": "http-404", "failing": "timeout", "moved": "redirect",
           "blocked": "http-403", "excluded": "private-network", "pending": None}
WORDS = ("the “ministry” said café Zürich — on Tuesday that ships crews drills fleet strait officials according to report "
         "the ministry said on Tuesday that ships crews drills fleet strait officials according to report "
         "agreement talks leaders pipeline sanctions troops exercises border statement press conference "
         "analysts warned government minister defence budget election results court ruling").split()
AUTHORS = ("Cassandra", "Mallory", "Peggy", "Trent", "Victor", "Walter", "Oscar", "Judy")


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def page_text(rng: random.Random, paragraphs: int) -> str:
    return "\n\n".join(" ".join(sentence(rng, rng.randint(8, 22)) for _ in range(4)) for _ in range(paragraphs))


def drift(rng: random.Random, text: str) -> str:
    """The live version of a page: some sentences replaced, one paragraph added."""
    parts = text.split(". ")
    for _ in range(max(1, len(parts) // 6)):
        parts[rng.randrange(len(parts))] = sentence(rng, 12).rstrip(".")
    return ". ".join(parts) + "\n\n" + sentence(rng, 30)


def build_world(store: Store, count: int, seed: int = 7) -> None:
    """Fill ``store`` with ``count`` links through bulk inserts (the schema of store.py)."""
    rng = random.Random(seed)
    states = rng.choices([s for s, _ in STATES], [w for _, w in STATES], k=count)
    db = store.db
    with store.atomic():
        db["sources"].insert_all(  # type: ignore[union-attr]
            {"source": f"https://news.example/2026/{n:04d}/article/", "kind": "url",
             "title": sentence(rng, 8), "first_collected": "2026-01-01T00:00:00Z",
             "last_collected": iso(SWEEPS[1])} for n in range(400))
        for start in SWEEPS:
            db["sweeps"].insert({"started_at": iso(start), "finished_at": iso(start + timedelta(minutes=30))})  # type: ignore[union-attr]
        _links(store, rng, states)


def _links(store: Store, rng: random.Random, states: list[str]) -> None:
    db = store.db
    links, citations, captures, checks, records, texts = [], [], [], [], [], []
    capture_id = check_id = 0
    for number, state in enumerate(states, 1):
        url = f"https://site{number % 997}.example/{2020 + number % 6}/{number:05d}/some-cited-page"
        first = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=number)
        ids = []
        for when, kind in ((first, "cited"), (SWEEPS[1] + timedelta(seconds=number % 1800), "latest")):
            capture_id += 1
            ids.append(capture_id)
            digest = f"sha1:{number}-{kind}" if state == "changed" or kind == "cited" else f"sha1:{number}-cited"
            captures.append({"id": capture_id, "link_id": number, "url": url, "final_url": url,
                             "captured_at": iso(when), "status": 404 if state == "dead" and kind == "latest" else 200,
                             "kind": "response", "warc": f"ARCHIVER-{when:%Y%m%d}-{number % 50:05d}.warc.gz",
                             "offset": number * 4096, "length": 3000 + number % 900, "payload_digest": digest,
                             "bytes": 40000, "hops": 1})
            records.append({"capture_id": capture_id, "hop": 0, "record_type": "response", "url": url,
                            "warc": captures[-1]["warc"], "offset": number * 4096, "length": 3000,
                            "record_id": f"<urn:uuid:{capture_id}>", "date": iso(when)})
        if state == "changed":
            cited = page_text(rng, rng.randint(4, 8))
            texts += [{"payload_digest": f"sha1:{number}-cited", "title": sentence(rng, 7), "text": cited},
                      {"payload_digest": f"sha1:{number}-latest", "title": sentence(rng, 7), "text": drift(rng, cited)}]
        before = "failing" if state == "dead" else "ok"
        for when, st in ((first, "ok"), (SWEEPS[0] + timedelta(minutes=5), before),
                         (SWEEPS[1] + timedelta(minutes=5), state)):
            if state == "pending":
                break
            check_id += 1
            checks.append({"id": check_id, "link_id": number, "checked_at": iso(when), "verdict": st, "state": st,
                           "reason": REASONS[st], "http_status": 200, "final_url": url, "capture_id": ids[-1]})
        links.append({"id": number, "url": url, "url_as_cited": url, "host": f"site{number % 997}.example",
                      "state": state, "reason": REASONS[state], "state_since": iso(first), "first_seen": iso(first),
                      "last_checked": checks[-1]["checked_at"] if state != "pending" else None,
                      "failures": 3 if state == "dead" else 1 if state == "failing" else 0,
                      "http_status": 404 if state == "dead" else 200, "final_url": url,
                      "similarity": round(rng.uniform(0.3, 0.79), 2) if state == "changed" else 0.98,
                      "cited_capture_id": ids[0], "latest_capture_id": ids[-1],
                      "last_check_id": check_id if state != "pending" else None})
        for cite in range(1 + (number % 3 == 0)):
            comment = rng.randint(1, 40) if cite or number % 2 else None
            citations.append({"link_id": number, "source": f"https://news.example/2026/{rng.randrange(400):04d}/article/",
                              "place": "comment" if comment else "body", "comment": comment,
                              "comment_author": rng.choice(AUTHORS) if comment else None,
                              "anchor": sentence(rng, 4) if not comment else None,
                              "context": " ".join(sentence(rng, rng.randint(8, 22)) for _ in range(rng.randint(1, 2))),
                              "url_as_written": url, "position": cite, "first_seen": iso(first),
                              "last_seen": iso(SWEEPS[1])})
    for table, rows in (("links", links), ("captures", captures), ("records", records), ("checks", checks),
                        ("citations", citations), ("texts", texts)):
        db[table].insert_all(rows, batch_size=2000)  # type: ignore[union-attr]


def timed(func: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - started)
    return best, result


def peak_memory(func: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def baseline(store: Store) -> str:
    """The naive report: the links and citations tables dumped as JSON."""
    return json.dumps({"links": store.links(), "citations": list(store.db["citations"].rows)})  # type: ignore[union-attr]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the archive here instead of a temp dir")
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench-report-"))
    with Store.open(directory) as store:
        started = time.perf_counter()
        if not store.db["links"].count:  # --keep DIR reuses a world built earlier
            build_world(store, args.links)
        print(f"world: {store.db['links'].count:,} links, {store.db['citations'].count:,} citations, "
              f"{store.db['texts'].count // 2:,} changed links with texts, built in {time.perf_counter() - started:.1f} s")
        base_time, base_text = timed(lambda: baseline(store))
        print(f"baseline json.dumps(links + citations rows): {base_time:.3f} s, {len(base_text) / 1e6:.1f} MB")
        gather_time, _ = timed(lambda: build_report(store, now=NOW))
        print(f"build_report: {gather_time:.3f} s, peak {peak_memory(lambda: build_report(store, now=NOW)) / 1e6:.1f} MB")
        failed = False
        out = directory / "bench-report.out"
        for fmt in FORMATS:
            def to_file(fmt: str = fmt) -> None:
                write_report(build_report(store, now=NOW), fmt, out)

            def to_string(fmt: str = fmt) -> str:
                return render(build_report(store, now=NOW), fmt)

            elapsed, _ = timed(to_file)
            peak, size = peak_memory(to_file), out.stat().st_size
            ok = elapsed < 5 and peak < 20e6
            failed |= not ok
            string_time, _ = timed(to_string, repeat=1)
            string_peak = peak_memory(to_string)
            print(f"{fmt:>4}: build+write {elapsed:.2f} s ({elapsed / base_time:.1f}x baseline), peak {peak / 1e6:.1f} MB, "
                  f"output {size / 1e6:.2f} MB  {'ok' if ok else 'OVER TARGET'}  "
                  f"| render() to a string: {string_time:.2f} s, peak {string_peak / 1e6:.1f} MB")
        out.unlink(missing_ok=True)
    if not args.keep:
        shutil.rmtree(directory, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
