#!/usr/bin/env python3
"""Compare two ``scripts/world.py --json`` results link by link: the same final state and
reason, and the same verdict history over every check?

    .venv/bin/python scripts/compare_world.py before.json after.json

Hosts are loopback addresses allotted per run, so links are matched by fate and path.
Exit code 0 when every link has the same history, 1 otherwise (each difference printed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def key(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def load(path: Path) -> dict[tuple[str, str], tuple[Any, Any, str]]:
    data = json.loads(path.read_text())
    return {(row["fate"], key(row["url"])): (row["state"], row["reason"], json.dumps(row["history"]))
            for row in data["rows"]}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    before, after = load(Path(argv[0])), load(Path(argv[1]))
    common = before.keys() & after.keys()
    print(f"links: {len(before)} before, {len(after)} after, {len(common)} in both")
    print(f"same final state and reason: {sum(before[k][:2] == after[k][:2] for k in common)}")
    print(f"same verdict history: {sum(before[k] == after[k] for k in common)}")
    differing = [k for k in sorted(common) if before[k] != after[k]]
    for k in differing:
        print("DIFF", k, before[k], after[k])
    return 0 if not differing and before.keys() == after.keys() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
