"""Screenshot the HTML report of the test world in headless Chromium, and check its DOM.

    .venv/bin/python scripts/screenshot_report.py [--out docs/report.png] [--keep DIR]

Builds the world of ``tests/test_report.py`` in a temporary archive, writes its
HTML report, takes a 1280x1600 screenshot with Debian's ``chromium``
(``apt-get install chromium``) and checks, with ``--dump-dom``, that the filter
script ran under the page's Content-Security-Policy and the counts are right.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from archiver.report import write_reports  # noqa: E402
from archiver.archive.store import Store  # noqa: E402
from tests.test_report import NOW, at, build_world  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=2000"]
EXPECTED = {"dead": 2, "failing": 1, "changed": 1, "moved": 1, "blocked": 1, "ok": 2, "pending": 1, "excluded": 2}


def chromium(*args: str) -> str:
    """Run headless Chromium with a throw-away profile; returns its stdout."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args],
                             capture_output=True, text=True, timeout=120, check=True)
    return run.stdout


def check_dom(dom: str) -> list[str]:
    """Problems found in the rendered DOM (empty when all is well)."""
    problems = []
    if not re.search(r'<body[^>]*data-ready="1"', dom):
        problems.append("the filter script did not run")
    if not re.search(r'<body[^>]*data-shown="6"', dom):
        problems.append("expected 6 problem links shown")
    tiles = {k: int(v) for k, v in re.findall(r'data-state="(\w+)" data-count="(\d+)"', dom)}
    if tiles != EXPECTED:
        problems.append(f"summary counts {tiles} != {EXPECTED}")
    if "<script>alert" in dom or "<img" in dom:
        problems.append("page markup reached the DOM")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--keep", type=Path, help="write the archive and report here instead of a temp dir")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="report-shot-"))
    with Store.open(work / "archives") as store:
        build_world(store)
        page = write_reports(store, work / "reports", ["html"], now=at(NOW))[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    chromium(f"--screenshot={args.out.resolve()}", "--window-size=1280,1600", page.as_uri())
    problems = check_dom(chromium("--dump-dom", page.as_uri()))
    print(f"report: {page}\nscreenshot: {args.out}")
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
