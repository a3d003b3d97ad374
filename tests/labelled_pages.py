"""Scoring the collector against pages whose citations were labelled by hand.

Each ``tests/data/collect/labelled/<name>.json`` names a page (a real saved
page under ``tests/data/corpus/pages`` or a synthetic one next to the label
file), the URL it was fetched from, its shape (``qa``, ``recipe``,
``pingbacks`` ...) and every citation on it: ``where`` (body or comment),
for a comment its number in thread order and, where labelled, its author
and kind (``pingback``, ``answer`` ...). Every link the collector reports
that is not a labelled citation counts as chrome.

Figures per page (and summed per shape):

- body recall: labelled body URLs reported as body;
- comment recall: labelled comment citations whose URL is reported in a
  comment;
- attribution: of those, the share reported with the labelled comment
  number, author and kind;
- chrome: reported links (distinct URL and place) that are not citations.

Used by ``tests/test_collect_recall.py`` and ``scripts/score_collect.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.collect import Collected, InvalidURL, collect_html, normalize_url

DATA = Path(__file__).resolve().parent / "data"
LABELLED = DATA / "collect" / "labelled"


@dataclass
class Score:
    """Counts behind the four figures; adds up over pages."""

    body: int = 0
    body_found: int = 0
    comments: int = 0
    comments_found: int = 0
    attributed: int = 0
    reported: int = 0
    chrome: int = 0
    misses: list[str] = field(default_factory=list)
    chrome_urls: list[str] = field(default_factory=list)
    misattributed: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        for name in ("body", "body_found", "comments", "comments_found", "attributed", "reported", "chrome"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.misses += other.misses
        self.chrome_urls += other.chrome_urls
        self.misattributed += other.misattributed

    @property
    def body_recall(self) -> float:
        return self.body_found / self.body if self.body else 1.0

    @property
    def comment_recall(self) -> float:
        return self.comments_found / self.comments if self.comments else 1.0

    @property
    def attribution(self) -> float:
        return self.attributed / self.comments_found if self.comments_found else 1.0

    @property
    def chrome_share(self) -> float:
        return self.chrome / self.reported if self.reported else 0.0


@dataclass(frozen=True)
class LabelledPage:
    name: str
    path: Path
    base_url: str
    shape: str
    synthetic: bool
    citations: tuple[dict[str, Any], ...]


def labelled_pages() -> list[LabelledPage]:
    pages = []
    for label in sorted(LABELLED.glob("*.json")):
        data = json.loads(label.read_text(encoding="utf-8"))
        pages.append(LabelledPage(
            label.stem, DATA / data["page"], data["base_url"], data["shape"], data["synthetic"],
            tuple(data["citations"]),
        ))  # fmt: skip
    return pages


def _norm(url: str) -> str:
    try:
        return normalize_url(url)
    except InvalidURL:
        return url


def score(page: LabelledPage, collected: Collected) -> Score:
    """The figures of one page, with the URLs behind each shortfall."""
    result = Score()
    body = {_norm(c["url"]) for c in page.citations if c["where"] == "body"}
    labelled = body | {_norm(c["url"]) for c in page.citations}
    found_body = {_norm(link.url) for link in collected.links if link.where == "body"}
    comment_links: dict[str, list[Any]] = {}
    for link in collected.links:
        if link.where == "comment":
            comment_links.setdefault(_norm(link.url), []).append(link)
    result.body, result.body_found = len(body), len(body & found_body)
    result.misses += [f"body {url}" for url in sorted(body - found_body)]
    wanted = {(_norm(c["url"]), c["comment"]): c for c in page.citations if c["where"] == "comment"}
    for (url, number), label in wanted.items():
        result.comments += 1
        links = comment_links.get(url, [])
        if not links:
            result.misses.append(f"comment {number} {url}")
            continue
        result.comments_found += 1
        if any(_attributed(link, number, label) for link in links):
            result.attributed += 1
        else:
            got = ", ".join(f"{link.comment}/{link.comment_author}/{getattr(link, 'comment_kind', None)}" for link in links)
            result.misattributed.append(f"comment {number} {url} reported as {got}")
    reported = {(_norm(link.url), link.where) for link in collected.links}
    result.reported = len(reported)
    chrome = sorted(f"{where} {url}" for url, where in reported if url not in labelled)
    result.chrome, result.chrome_urls = len(chrome), chrome
    return result


def _attributed(link: Any, number: int, label: dict[str, Any]) -> bool:
    if link.comment != number:
        return False
    if label.get("author") and link.comment_author != label["author"]:
        return False
    kind = label.get("kind")
    return not (kind and kind != "comment" and getattr(link, "comment_kind", None) != kind)


def collect(page: LabelledPage) -> Collected:
    return collect_html(page.path.read_bytes(), page.base_url, page.name)


def table(pages: Iterable[LabelledPage], run: Callable[[LabelledPage], Collected] = collect) -> list[tuple[str, Score]]:
    """(row name, score) per shape and for all pages, in that order."""
    by_shape: dict[str, Score] = {}
    total = Score()
    for page in pages:
        page_score = score(page, run(page))
        by_shape.setdefault(page.shape, Score()).add(page_score)
        total.add(page_score)
    return [*sorted(by_shape.items()), ("all", total)]


def format_table(rows: list[tuple[str, Score]]) -> str:
    lines = [f"{'shape':14} {'body recall':>16} {'comment recall':>16} {'attribution':>14} {'chrome':>12}"]
    for name, s in rows:
        lines.append(
            f"{name:14} {s.body_recall:7.1%} ({s.body_found:3}/{s.body:3}) {s.comment_recall:7.1%} "
            f"({s.comments_found:3}/{s.comments:3}) {s.attribution:7.1%} ({s.attributed:3}) "
            f"{s.chrome_share:6.1%} ({s.chrome:2}/{s.reported:3})"
        )
    return "\n".join(lines)
