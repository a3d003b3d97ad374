"""The review workbench in a real browser: a real sweep against local servers, then review it (SPEC §9)."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .review_world import article_citing, page, prose, write_config
from .review_world import run as run_here
from .server import TestServer
from .workbench import browser, serving  # noqa: F401  (browser is a fixture)

CITED = "The cited copy says harbourmaster Quillfeather approved it."
LIVE = "The live page now says zeppelin Marmaduke vetoed it."


def run(config: Path, *args: str, code: int = 0) -> Any:
    """The CLI in a thread of its own: Playwright's event loop runs in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run_here, config, *args, code=code).result()


def rows(tmp_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    conn = sqlite3.connect(tmp_path / "archives" / "archive.db")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


def link(tmp_path: Path, url: str) -> dict[str, Any]:
    return rows(tmp_path, "SELECT * FROM links WHERE url = ?", (url,))[0]


def checked(config: Path, *urls: str) -> dict[str, str]:
    out = json.loads(run(config, "check", "--format", "json", *urls).output)
    return {item["url"]: item["state"] for item in out}


@pytest.mark.slow
def test_review_a_real_sweep_in_the_browser(tmp_path: Path, make_server: Any, browser: Any) -> None:
    news, spam = make_server(), make_server()
    accept_url = news.route("/accept", page("Budget", [CITED, *prose(1)]))
    alarm_url = news.route("/alarm", page("Ferry", prose(2)))
    undo_url = news.route("/undo", page("Tunnel", prose(3)))
    spam_one = spam.route("/one", page("Spam one", prose(4)))
    spam_two = spam.route("/two", page("Spam two", prose(5)))
    article = article_citing(tmp_path, [accept_url, alarm_url, undo_url, spam_one, spam_two])
    config = write_config(tmp_path, article)
    run(config, "sweep", "--no-report")
    cited_capture = link(tmp_path, accept_url)["cited_capture_id"]

    news.route("/accept", page("Budget", [LIVE, *prose(11)]))
    news.route("/alarm", page("Ferry", prose(12)))
    news.route("/undo", page("Tunnel", prose(13)))
    spam.route("/one", page("Gone", ["Not found."]), status=404)
    run(config, "sweep", "--no-report")
    assert {link(tmp_path, u)["state"] for u in (accept_url, alarm_url, undo_url)} == {"changed"}
    assert link(tmp_path, spam_one)["state"] == "dead"
    spam_host = spam_one.split("/")[2].split(":")[0]

    with serving(config) as (workbench, replay):
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(workbench)
        assert tab.locator(".tile.s-changed b").inner_text() == "3"
        # filter to changed
        for state in ("dead", "failing", "moved", "blocked"):
            tab.locator(f'form.filters input[value="{state}"]').uncheck()
        tab.locator('form.filters button[type="submit"]').click()
        tab.wait_for_load_state()
        assert "state=changed" in tab.url
        cards = tab.locator("article.link")
        assert cards.count() == 3 and tab.locator('article.link[data-state="dead"]').count() == 0
        # open a link: the diff shows what went and what came
        tab.locator(f'article.link a.url:text-is("{accept_url}")').click()
        tab.wait_for_load_state()
        assert "Quillfeather" in tab.locator("#diff del").all_inner_texts().__str__()
        assert "Marmaduke" in tab.locator("#diff ins").all_inner_texts().__str__()
        # the cited copy replays from the other origin, with its text
        cited_row = tab.locator("#captures tr", has_text="(cited copy)")
        with context.expect_page() as popup:
            cited_row.locator("a.replay").click()
        replayed = popup.value
        replayed.wait_for_load_state()
        assert replayed.url.startswith(replay)
        assert "harbourmaster Quillfeather approved it" in replayed.locator("body").inner_text()
        replayed.close()
        # accept the change, as Alice (the name is remembered for the next decisions)
        tab.locator('form.decide input[name="by"]').fill("Alice")
        tab.locator('form.decide button[value="accept"]').click()
        tab.wait_for_selector('article.link[data-state="ok"]')
        assert tab.locator("table.decisions tr[data-decision]").count() == 1

        tab.goto(workbench + "links?q=/alarm")
        tab.locator("table.links a").first.click()
        tab.wait_for_load_state()
        tab.locator("form.decide textarea").fill("only the <b>ads</b> changed")
        tab.locator('form.decide button[value="false-alarm"]').click()
        tab.wait_for_selector('article.link[data-state="ok"]')
        assert "only the <b>ads</b> changed" in tab.locator("table.decisions").inner_text()

        tab.goto(workbench + "links?q=/undo")
        tab.locator("table.links a").first.click()
        tab.wait_for_load_state()
        tab.locator('form.decide button[value="false-alarm"]').click()
        tab.wait_for_selector('article.link[data-state="ok"]')
        tab.locator("button.undo").first.click()
        tab.wait_for_selector('article.link[data-state="changed"]')

        tab.goto(workbench + "links?q=/one")
        tab.locator("table.links a").first.click()
        tab.wait_for_load_state()
        tab.locator(f'form.decide button[data-host="{spam_host}"]').click()
        tab.wait_for_selector('article.link[data-state="excluded"]')

        tab.goto(workbench + "decisions")
        assert tab.locator("table.grid tr").count() == 1 + 4
        context.close()

    # the database
    accepted = link(tmp_path, accept_url)
    assert (accepted["state"], accepted["reason"]) == ("ok", "accepted")
    assert accepted["cited_capture_id"] != cited_capture
    assert (link(tmp_path, alarm_url)["state"], link(tmp_path, alarm_url)["reason"]) == ("ok", "false-alarm")
    assert link(tmp_path, undo_url)["state"] == "changed"
    assert {(link(tmp_path, u)["state"], link(tmp_path, u)["reason"]) for u in (spam_one, spam_two)} == \
        {("excluded", "ignored")}
    decisions = rows(tmp_path, "SELECT decision, host, undone_at, decided_by, undone_by FROM decisions ORDER BY id")
    assert [(d["decision"], d["undone_at"] is not None) for d in decisions] == \
        [("accept", False), ("false-alarm", False), ("false-alarm", True), ("ignore", False)]
    assert {d["decided_by"] for d in decisions} == {"Alice"} and decisions[2]["undone_by"] == "Alice"

    # the JSON report
    report = {item["url"]: item for item in json.loads(run(config, "report", "--format", "json").output)["links"]}
    assert report[accept_url]["review"]["decision"] == "accept"
    assert report[alarm_url]["review"]["note"] == "only the <b>ads</b> changed"
    assert "review" not in report[undo_url]
    assert report[spam_two]["review"]["host"] == spam_host

    # the next check respects each decision
    hits = spam.routes["/one"].hits + spam.routes["/two"].hits
    states = checked(config, accept_url, alarm_url, undo_url, spam_one, spam_two)
    assert states == {accept_url: "ok", alarm_url: "ok", undo_url: "changed"}
    assert spam.routes["/one"].hits + spam.routes["/two"].hits == hits
    assert link(tmp_path, alarm_url)["reason"] == "false-alarm"
    news.route("/alarm", page("Ferry", prose(14)))  # a later real change is raised again
    assert checked(config, alarm_url) == {alarm_url: "changed"}
