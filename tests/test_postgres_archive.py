"""The commands that read a PostgreSQL archive (SPEC §11): `serve`, `report`, `export`, and a `check`
run by hand next to live workers, and a decision racing a worker's check of the same link."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from .review_world import article_citing, page, prose, run, write_config
from .workbench import serving


def _pg_config(tmp_path: Path, article: Path, pg_url: str) -> Path:
    config = write_config(tmp_path, article)
    text = config.read_text()
    config.write_text(text.replace('dir = "archives"\n', f'dir = "archives"\ndatabase = {json.dumps(pg_url)}\n', 1))
    return config


@pytest.mark.slow
def test_serve_report_and_export_read_a_postgresql_archive(tmp_path: Path, make_server: Any, pg_url: str) -> None:
    news = make_server()
    kept = news.route("/pg/kept", page("Kept", prose(200)))
    gone = news.route("/pg/gone", page("Gone", prose(201)))
    config = _pg_config(tmp_path, article_citing(tmp_path, [kept, gone]), pg_url)
    run(config, "sweep", "--no-report")
    news.route("/pg/gone", page("Not found", ["Nothing here."]), status=404)
    run(config, "sweep", "--no-report")
    assert not (tmp_path / "archives" / "archive.db").exists()  # everything is in PostgreSQL
    with serving(config) as (workbench, replay), httpx.Client(timeout=10) as client:
        home = client.get(workbench)
        assert home.status_code == 200 and gone in home.text  # the live report, from PostgreSQL
        dead = client.get(workbench + "api/links", params={"state": "dead"}).json()
        assert [link["url"] for link in dead["links"]] == [gone]
        link_id = dead["links"][0]["id"]
        detail = client.get(workbench + f"api/links/{link_id}").json()
        assert detail["link"]["state"] == "dead" and len(detail["checks"]) == 2
        raw = [c["raw"] for c in detail["captures"] if c["raw"]]
        assert raw and client.get(raw[0]).status_code == 200  # replay of a capture recorded in PostgreSQL
        assert "Nothing here." in client.get(workbench + f"link/{link_id}").text
        csrf = client.get(workbench + "api/session").json()["csrf"]
        made = client.post(workbench + "api/decisions", headers={"X-CSRF-Token": csrf},
                           json={"link_id": link_id, "decision": "false-alarm", "note": "moved on paper"})
        assert made.status_code == 201, made.text
        assert client.get(workbench + f"api/links/{link_id}").json()["link"]["state"] == "ok"
        assert "moved on paper" in client.get(workbench + "decisions").text
        undone = client.post(workbench + f"api/decisions/{made.json()['id']}/undo", headers={"X-CSRF-Token": csrf})
        assert undone.status_code == 200, undone.text
        assert client.get(workbench + f"api/links/{link_id}").json()["link"]["state"] == "dead"
    report = json.loads(run(config, "report", "--format", "json").output)
    states = {link["url"]: link["state"] for link in report["links"]}
    assert states == {kept: "ok", gone: "dead"}
    run(config, "export", "--wacz", str(tmp_path / "out.wacz"))
    with zipfile.ZipFile(tmp_path / "out.wacz") as package:
        assert any(name.startswith("archive/") and name.endswith(".warc.gz") for name in package.namelist())
