"""The workbench's JSON API over a real archive (the pages use it; so can scripts)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from archiver.archive.lock import ArchiveLock

from .review_world import article_citing, page, prose, run, write_config
from .workbench import serving


@pytest.mark.slow
def test_api_lists_filters_shows_a_link_and_decides(tmp_path: Path, make_server: Any) -> None:
    news, other = make_server(), make_server()
    kept = news.route("/api/kept", page("Kept", prose(100)))
    gone = news.route("/api/gone", page("Gone", prose(101)))
    elsewhere = other.route("/api/elsewhere", page("Elsewhere", prose(102)))
    config = write_config(tmp_path, article_citing(tmp_path, [kept, gone, elsewhere]))
    run(config, "sweep", "--no-report")
    news.route("/api/gone", page("Not found", ["Nothing here."]), status=404)
    run(config, "sweep", "--no-report")
    other_host = elsewhere.split("/")[2].split(":")[0]
    with serving(config) as (workbench, replay), httpx.Client(timeout=10) as client:
        everything = client.get(workbench + "api/links").json()
        assert everything["total"] == 3
        dead = client.get(workbench + "api/links", params={"state": "dead"}).json()
        assert [link["url"] for link in dead["links"]] == [gone]
        assert client.get(workbench + "api/links", params={"host": other_host}).json()["links"][0]["url"] == elsewhere
        assert client.get(workbench + "api/links", params={"q": "/api/ke"}).json()["total"] == 1
        assert client.get(workbench + "api/links", params={"q": "article.txt"}).json()["total"] == 3  # by article
        second = sorted([kept, gone, elsewhere])[1]
        assert client.get(workbench + "api/links", params={"limit": 1, "offset": 1}).json()["links"][0]["url"] == second
        detail = client.get(workbench + f"api/links/{dead['links'][0]['id']}").json()
        assert detail["link"]["state"] == "dead" and len(detail["checks"]) == 2
        assert detail["citations"][0]["source"].endswith("article.txt")
        raw = [c["raw"] for c in detail["captures"] if c["raw"]]
        assert raw and all(r.startswith(replay + "archive/") for r in raw)
        assert client.get(raw[0]).status_code == 200
        csrf = client.get(workbench + "api/session").json()["csrf"]
        refused = client.post(workbench + "api/decisions", json={"url": kept, "decision": "accept"},
                              headers={"X-CSRF-Token": csrf})
        assert refused.status_code == 400 and "only a changed or moved link" in refused.json()["error"]
        made = client.post(workbench + "api/decisions", json={"url": gone.replace("http://", "HTTP://") + "#x",
                                                              "decision": "false-alarm",
                                                              "note": "moved to the archive"},
                           headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201
        listed = client.get(workbench + "api/links", params={"state": "ok"}).json()["links"]
        assert {link["url"]: link["review"] for link in listed}[gone].startswith("false-alarm by")
        assert client.get(workbench + "api/decisions").json()["decisions"][0]["note"] == "moved to the archive"
        assert client.get(workbench + "api/links/9999").status_code == 404
        fresh = news.route("/api/fresh", page("Fresh", prose(103)))
        run(config, "snapshot", fresh)  # written while serve runs: replays at once (index.cdxj is re-read)
        fresh_id = client.get(workbench + "api/links", params={"q": "/api/fresh"}).json()["links"][0]["id"]
        fresh_raw = client.get(workbench + f"api/links/{fresh_id}").json()["captures"][0]["raw"]
        assert client.get(fresh_raw).status_code == 200
        with ArchiveLock(tmp_path / "archives", what="a sweep in a test"):  # a sweep or check is running
            busy = client.post(workbench + "api/decisions", json={"url": kept, "decision": "ignore"},
                               headers={"X-CSRF-Token": csrf})
        assert busy.status_code == 409 and "a sweep or check is running" in busy.json()["error"]
        assert client.post(workbench + "api/decisions", json={"url": kept, "decision": "ignore"},
                           headers={"X-CSRF-Token": csrf}).status_code == 201
        page_html = client.get(workbench + f"link/{dead['links'][0]['id']}").text
        assert "moved to the archive" in page_html and "<script>" not in page_html.split("</main>")[0]
        assert page_html.split('id="checks"')[1].count('class="raw"') == 2  # each check's evidence replays
        first, second = sorted(c["id"] for c in detail["captures"])
        chosen = client.get(workbench + f"link/{detail['link']['id']}", params={"a": second, "b": first}).text
        assert f"capture #{second} → #{first}" in chosen
        diff = chosen.split('id="diff"')[1].split("</section>")[0]
        assert re.search(r"<del>[^<]*Nothing here\.", diff), diff[:2000]  # from the 404 page to the cited copy
