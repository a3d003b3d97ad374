"""Decisions (SPEC §9) from the command line: accept, false alarm, ignore, note, undo; checks respect them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from .review_world import article_citing, page, prose, run, write_config
from .server import TestServer


def link_row(tmp_path: Path, url: str) -> dict[str, Any]:
    conn = sqlite3.connect(tmp_path / "archives" / "archive.db")
    conn.row_factory = sqlite3.Row
    try:
        return dict(conn.execute("SELECT * FROM links WHERE url = ?", [url]).fetchone())
    finally:
        conn.close()


def report_link(config: Path, url: str) -> dict[str, Any]:
    data = json.loads(run(config, "report", "--format", "json").output)
    return next(link for link in data["links"] if link["url"] == url)


def check_state(config: Path, url: str) -> str:
    out = json.loads(run(config, "check", "--format", "json", url).output)
    return str(out[0]["state"]) if out else "not checked"


def test_accept_makes_the_latest_capture_the_cited_copy_and_undo_restores_it(tmp_path: Path,
                                                                             server: TestServer) -> None:
    url = server.route("/review/accept", page("Budget", prose(1)))
    config = write_config(tmp_path)
    run(config, "snapshot", url)
    cited = link_row(tmp_path, url)["cited_capture_id"]
    server.route("/review/accept", page("Budget", prose(2)))
    assert check_state(config, url) == "changed"
    before = link_row(tmp_path, url)

    out = run(config, "review", url, "--accept", "--by", "alice").output
    assert "accept" in out and "by alice" in out
    after = link_row(tmp_path, url)
    assert (after["state"], after["reason"]) == ("ok", "accepted")
    assert after["cited_capture_id"] not in (None, cited)
    review = report_link(config, url)["review"]
    assert review["decision"] == "accept" and review["by"] == "alice" and review["at"]
    markdown = run(config, "report", "--format", "md").output
    assert "## Reviewer decisions in force (1)" in markdown and "accept by alice at" in markdown
    html = run(config, "report", "--format", "html").output
    assert 'id="reviewed"' in html and "accept by alice at" in html
    assert check_state(config, url) == "ok"  # judged against the accepted copy now

    server.route("/review/accept", page("Budget", prose(3)))  # a later real change is raised
    assert check_state(config, url) == "changed"

    decision_id = json.loads(run(config, "review", "--list", "--format", "json").output)[0]["id"]
    run(config, "review", "--undo", str(decision_id), "--by", "bob")
    restored = link_row(tmp_path, url)
    for column in ("state", "reason", "cited_capture_id", "failures", "state_since"):
        assert restored[column] == before[column], column
    assert "review" not in report_link(config, url)
    assert "undone" in run(config, "review", "--list").output


def test_false_alarm_stays_quiet_until_the_page_changes_again(tmp_path: Path, server: TestServer) -> None:
    url = server.route("/review/false-alarm", page("River", prose(10)))
    config = write_config(tmp_path)
    run(config, "snapshot", url)
    server.route("/review/false-alarm", page("River", prose(11)))
    assert check_state(config, url) == "changed"
    run(config, "review", url, "--false-alarm", "--note", "only the layout changed")
    row = link_row(tmp_path, url)
    assert (row["state"], row["reason"]) == ("ok", "false-alarm")
    review = report_link(config, url)["review"]
    assert review["decision"] == "false-alarm" and review["note"] == "only the layout changed"

    assert check_state(config, url) == "ok"  # the same page: not raised again
    assert link_row(tmp_path, url)["reason"] == "false-alarm"
    server.route("/review/false-alarm", page("River", prose(11)[:5] + prose(99)[:1]))  # a small edit of it
    assert check_state(config, url) == "ok"

    server.route("/review/false-alarm", page("River", prose(12)))  # changed again
    assert check_state(config, url) == "changed"
    server.route("/review/false-alarm", page("River", prose(11)))  # the decision has ended
    assert check_state(config, url) == "changed"


def test_false_alarm_on_a_dead_link_and_a_different_failure(tmp_path: Path, server: TestServer) -> None:
    url = server.route("/review/dead", page("Mine", prose(20)))
    config = write_config(tmp_path)
    run(config, "snapshot", url)
    server.route("/review/dead", page("Gone", ["Not here."]), status=404)
    assert check_state(config, url) == "dead"
    run(config, "review", url, "--false-alarm")
    assert check_state(config, url) == "ok"
    server.route("/review/dead", page("Gone", ["Not here."]), status=410)
    assert check_state(config, url) == "dead"  # a different failure answer is a different page


def test_ignore_a_host_excludes_its_links_now_and_later_and_undo(tmp_path: Path, make_server: Any) -> None:
    other = make_server()
    kept = other.route("/kept", page("Kept", prose(30)))
    spam = make_server()
    first = spam.route("/one", page("One", prose(31)))
    config = write_config(tmp_path)
    run(config, "snapshot", kept, first)
    host = first.split("/")[2].split(":")[0]
    before = link_row(tmp_path, first)
    run(config, "review", "--host", host, "--ignore", "--by", "carol")
    assert (link_row(tmp_path, first)["state"], link_row(tmp_path, first)["reason"]) == ("excluded", "ignored")
    assert link_row(tmp_path, kept)["state"] == "ok"
    review = report_link(config, first)["review"]
    assert review == {"decision": "ignore", "by": "carol", "at": review["at"], "note": None, "host": host}
    shown = run(config, "links", first).output  # the link's page in the terminal names the decision
    assert "  decisions:\n" in shown and f"{review['at']}  ignore (on its host) by carol" in shown
    assert json.loads(run(config, "links", first, "--format", "json").output)["decisions"][0]["on"] == "host"

    hits = spam.routes["/one"].hits
    run(config, "check", "--all")
    assert spam.routes["/one"].hits == hits  # never fetched again

    later = spam.route("/two", page("Two", prose(32)))
    article = article_citing(tmp_path, [later, kept])
    sweep_config = write_config(tmp_path, article)
    run(sweep_config, "sweep", "--no-report")
    assert spam.routes["/two"].hits == 0
    assert (link_row(tmp_path, later)["state"], link_row(tmp_path, later)["reason"]) == ("excluded", "ignored")

    decision_id = json.loads(run(config, "review", "--list", "--format", "json").output)[0]["id"]
    run(config, "review", "--undo", str(decision_id))
    restored = link_row(tmp_path, first)
    assert (restored["state"], restored["reason"], restored["next_check"]) == \
        (before["state"], before["reason"], before["next_check"])
    assert link_row(tmp_path, later)["state"] == "pending"


def test_review_refusals_name_the_problem(tmp_path: Path, server: TestServer) -> None:
    url = server.route("/review/refusals", page("Ferry", prose(40)))
    config = write_config(tmp_path)
    run(config, "snapshot", url)
    assert "only a changed or moved link can be accepted" in run(config, "review", url, "--accept", code=2).output
    assert "not in the archive" in run(config, "review", url + "x", "--ignore", code=2).output
    assert "no decision #99" in run(config, "review", "--undo", "99", code=2).output
    assert "nothing to do" in run(config, "review", url, code=2).output
    note = run(config, "review", url, "--note", "ask the author").output
    assert "note" in note
    assert "note by " in run(config, "links", url).output and ": ask the author" in run(config, "links", url).output
    run(config, "review", url, "--ignore")
    rows = json.loads(run(config, "review", "--list", "--format", "json").output)
    assert [r["decision"] for r in rows] == ["ignore", "note"]
    run(config, "review", url, "--false-alarm", code=2)  # excluded: nothing to call a false alarm
    run(config, "review", "--undo", str(rows[0]["id"]))
    assert link_row(tmp_path, url)["state"] == "ok"


def test_reports_replay_links_point_at_the_serve_replay_origin(tmp_path: Path, server: TestServer) -> None:
    url = server.route("/review/replay-links", page("Museum", prose(45)))
    config = write_config(tmp_path)
    run(config, "snapshot", url)
    assert report_link(config, url)["cited_copy"]["replay"].startswith("http://127.0.0.1:8081/archive/")
    public = write_config(tmp_path, extra='[serve]\npublic_url = "https://review.example.org/"\nport = 9000\n')
    assert report_link(public, url)["cited_copy"]["replay"].startswith("https://review.example.org:9001/archive/")
    html = run(public, "report", "--format", "html").output
    assert "https://review.example.org:9001/archive/" in html
