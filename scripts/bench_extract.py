#!/usr/bin/env python
"""Benchmark main-text extraction and comparison on the real corpus pages.

Reports, in one run:

- ``extract()``: ms per page and MB of HTML per second (CPU time);
- ``decode_body()`` + ``decode_text()`` of the gzipped bodies;
- ``similarity()`` of each page's text against a 2%-edited copy of it, and
  its cost as a fraction of ``extract()`` on the same pages;
- the checker's budget: checking N links of which half are byte-identical to
  their cited copy (no extraction, no comparison: the payload digest matches)
  costs ``extract + decode + similarity`` for the other half. The issue's
  target is at most 1.3x the CPU of the extractions themselves.

\b
    .venv/bin/python scripts/bench_extract.py
    .venv/bin/python scripts/bench_extract.py --repeat 5 --json
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.check.diff import similarity
from archiver.check.extract import decode_body, decode_text, extract

DEFAULT_PAGES = Path(__file__).resolve().parents[1] / "tests" / "data" / "corpus" / "pages"


def cpu(fn: Callable[[], object], repeat: int) -> float:
    """Best CPU seconds of ``repeat`` runs of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def edit(text: str, fraction: float, rng: random.Random) -> str:
    """``text`` with ``fraction`` of its words replaced."""
    words = text.split(" ")
    for i in rng.sample(range(len(words)), max(1, int(len(words) * fraction))):
        words[i] = f"edited{rng.randint(10, 99)}"
    return " ".join(words)


def run(pages_dir: Path, repeat: int) -> dict[str, float]:
    bodies = [p.read_bytes() for p in sorted(pages_dir.glob("*.html"))]
    if not bodies:
        raise SystemExit(f"no *.html pages in {pages_dir}")
    htmls = [decode_text(b, "text/html") for b in bodies]
    texts = [extract(h).text for h in htmls]  # warm-up, and the cited texts
    rng = random.Random(1)
    live = [edit(t, 0.02, rng) for t in texts]

    gzipped = [gzip.compress(b) for b in bodies]
    limit = 50_000_000
    t_decode = cpu(lambda: [decode_text(decode_body(g, "gzip", limit=limit), "text/html") for g in gzipped], repeat)
    t_extract = cpu(lambda: [extract(h) for h in htmls], repeat)
    t_similar = cpu(lambda: [similarity(a, b) for a, b in zip(texts, live)], repeat)

    n, mb = len(htmls), sum(map(len, bodies)) / 1e6
    per_link = t_decode + t_extract + t_similar  # one changed-or-not link needing work
    return {
        "pages": n,
        "html_mb": round(mb, 3),
        "text_kb": round(sum(map(len, texts)) / 1e3, 1),
        "extract_ms_per_page": round(t_extract / n * 1e3, 2),
        "extract_mb_per_s": round(mb / t_extract, 2),
        "decode_ms_per_page": round(t_decode / n * 1e3, 3),
        "similarity_ms_per_page": round(t_similar / n * 1e3, 3),
        "similarity_over_extract": round(t_similar / t_extract, 4),
        "check_cpu_over_extract_cpu": round(per_link / t_extract, 4),
        "target": 1.3,
        "min_similarity_2pct_edit": round(min(similarity(a, b) for a, b in zip(texts, live)), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="directory of *.html pages")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is kept")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    logging.getLogger("trafilatura").setLevel(logging.ERROR)

    r = run(args.pages, args.repeat)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"pages            {r['pages']} ({r['html_mb']} MB HTML, {r['text_kb']} KB main text)")
    print(f"extract()        {r['extract_ms_per_page']:.1f} ms/page, {r['extract_mb_per_s']:.2f} MB/s (CPU)")
    print(f"decode()         {r['decode_ms_per_page']:.3f} ms/page (gunzip + charset)")
    print(
        f"similarity()     {r['similarity_ms_per_page']:.3f} ms/page = {r['similarity_over_extract']:.2%} of extract()"
    )
    print(
        f"check budget     decode + extract + similarity = {r['check_cpu_over_extract_cpu']:.3f}x extract "
        f"(target <= {r['target']}x; byte-identical links cost neither)"
    )
    print(f"2% edit          min similarity {r['min_similarity_2pct_edit']}")
    return 0 if r["check_cpu_over_extract_cpu"] <= r["target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
