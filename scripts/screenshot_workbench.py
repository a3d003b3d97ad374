"""Screenshot the review workbench (`archiver serve`) in Chromium through Playwright, as the tests drive it.

    .venv/bin/python scripts/screenshot_workbench.py [--out docs] [--keep DIR]

Runs two real sweeps of an article citing pages on local servers (some pages
change, one disappears between them), records a few decisions, starts
`archiver serve` and saves ``workbench.png`` (the live report) and
``workbench-link.png`` (a changed link: review, citations, diff, captures) in
``--out``. Needs Debian's ``chromium`` and the ``playwright`` package (no
``playwright install``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.review_world import article_citing, page, prose, run, write_config  # noqa: E402
from tests.server import TestServer  # noqa: E402
from tests.workbench import CHROMIUM, CHROMIUM_ARGS, serving  # noqa: E402

CITED = "The harbour authority approved the new ferry terminal on Tuesday, its chair said."
LIVE = "The harbour authority has withdrawn its approval of the ferry terminal, citing costs."


def build(work: Path) -> tuple[Path, str]:
    news, other = TestServer().start(), TestServer(host="127.0.0.3").start()
    pages = {
        "/2026/harbour-vote": ("Harbour vote", [CITED, *prose(1)]),
        "/2026/budget": ("Council budget 2026", prose(2)),
        "/2026/bridge-report": ("Bridge inspection report", prose(3)),
        "/2026/museum": ("Museum reopens", prose(4)),
        "/2026/festival": ("Festival programme", prose(5)),
    }
    urls = [news.route(path, page(title, text)) for path, (title, text) in pages.items()]
    urls.append(other.route("/press/statement", page("Statement", prose(6))))
    article = article_citing(work, urls, name="article.txt")
    config = write_config(work, article, '[serve]\nreviewer = "editor"\n')
    run(config, "sweep", "--no-report")
    news.route("/2026/harbour-vote", page("Harbour vote", [LIVE, *prose(11)]))
    news.route("/2026/budget", page("Council budget 2026", prose(12)))
    news.route("/2026/bridge-report", page("Not found", ["This page does not exist."]), status=404)
    other.route("/press/statement", page("Statement (updated)", prose(16)))
    run(config, "sweep", "--no-report")
    run(config, "review", urls[1], "--false-alarm", "--note", "only the sidebar changed")
    run(config, "review", urls[0], "--note", "ask the author whether the vote was reversed")
    news.stop()
    other.stop()
    return config, urls[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--keep", type=Path, help="build the archive here instead of a temp dir")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = args.keep or Path(tempfile.mkdtemp(prefix="workbench-shot-"))
    work.mkdir(parents=True, exist_ok=True)
    config, changed = build(work)
    args.out.mkdir(parents=True, exist_ok=True)
    with serving(config) as (workbench, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 1100})
        tab.goto(workbench)
        tab.wait_for_selector("body[data-ready='1']")
        tab.screenshot(path=str(args.out / "workbench.png"), full_page=False)
        tab.goto(workbench + "links?q=harbour-vote")
        tab.locator("table.links a").first.click()
        tab.wait_for_selector("#diff")
        tab.screenshot(path=str(args.out / "workbench-link.png"), full_page=True)
        browser.close()
    print(f"screenshots: {args.out / 'workbench.png'}, {args.out / 'workbench-link.png'} (changed link {changed})")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
