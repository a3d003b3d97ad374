"""Score the collector on the hand-labelled pages (tests/data/collect/labelled).

Prints body recall, comment recall, attribution and chrome share per page
shape and overall; with ``--details`` also every missed, misattributed and
chrome URL per page.

    .venv/bin/python scripts/score_collect.py [--details]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.labelled_pages import collect, format_table, labelled_pages, score, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--details", action="store_true", help="list the URLs behind every shortfall")
    args = parser.parse_args()
    pages = labelled_pages()
    print(format_table(table(pages)))
    if args.details:
        for page in pages:
            result = score(page, collect(page))
            problems = result.misses + result.misattributed + [f"chrome {u}" for u in result.chrome_urls]
            if problems:
                print(f"\n{page.name} ({page.shape}{', synthetic' if page.synthetic else ''}):")
                for line in problems:
                    print(f"  {line}")


if __name__ == "__main__":
    main()
