"""The commands that read a PostgreSQL archive (SPEC §11): `serve`, `report`, `export`, and a `check`
run by hand next to live workers, and a decision racing a worker's check of the same link."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from archiver.archive.lock import ArchiveLock
from archiver.archive.store import Store, utcnow

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
        with ArchiveLock(tmp_path / "archives", what="a sweep in a test"):  # no wait for a sweep by hand
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


@pytest.mark.slow
def test_check_by_hand_leaves_the_hosts_of_live_workers_alone(tmp_path: Path, make_server: Any, pg_url: str) -> None:
    news = make_server()
    urls = [news.route(f"/pg/held{n}", page(f"Held {n}", prose(210 + n))) for n in range(2)]
    config = _pg_config(tmp_path, article_citing(tmp_path, urls), pg_url)
    run(config, "sweep", "--no-report")
    archive = tmp_path / "archives"
    now = utcnow()
    with Store.open(archive, pg_url) as store:
        host = store.links()[0]["host"]
        store.register_worker("w0feed", "elsewhere", 1, now)  # a live worker holding the host
        assert store.lease_hosts("w0feed", [host], now=now, lease_until=now + timedelta(seconds=120),
                                 released_before=now) == [host]
    before = [news.routes[f"/pg/held{n}"].hits for n in range(2)]
    result = run(config, "check", "--all")
    assert "2 link(s) skipped: their host is held by a live worker" in result.output, result.output
    assert [news.routes[f"/pg/held{n}"].hits for n in range(2)] == before  # not one request to its host
    with Store.open(archive, pg_url) as store:
        store.stop_worker("w0feed", utcnow())  # the worker stops: its host is free
    result = run(config, "check", "--all")
    assert "skipped" not in result.output and "checked 2 link(s)" in result.output, result.output
    assert [news.routes[f"/pg/held{n}"].hits for n in range(2)] == [n + 1 for n in before]
    with Store.open(archive, pg_url) as store:
        assert store.worker_rows() == []  # the check's own lease and registration are gone
        assert store.stale_leases(utcnow() + timedelta(days=1)) == []


@pytest.mark.slow
def test_a_decision_made_while_a_worker_checks_the_link_stands(tmp_path: Path, make_server: Any, pg_url: str) -> None:
    news = make_server()
    url = news.route("/pg/racing", page("Racing", prose(220)))
    config = _pg_config(tmp_path, article_citing(tmp_path, [url]), pg_url)
    run(config, "sweep", "--no-report")
    route = news.routes["/pg/racing"]
    route.body, route.delay = page("Racing", prose(221)), 1.8  # rewritten, and slow to answer
    hits = route.hits
    worker = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config), "worker", "--once"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while route.hits == hits:  # the worker is fetching the link: it read the link's state before this
            assert time.monotonic() < deadline and worker.poll() is None, worker.communicate()
            time.sleep(0.02)
        run(config, "review", url, "--ignore", "--by", "racer")  # workers take no archive lock
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    with Store.open(tmp_path / "archives", pg_url) as store:
        link = store.link(url)
        assert link is not None
        checks = store.checks(link["id"])
    assert checks[-1]["verdict"] == "changed"  # the worker's check is kept, as evidence
    assert (link["state"], link["reason"]) == ("excluded", "ignored"), (link, checks[-1])  # the decision stands
    report = json.loads(run(config, "report", "--format", "json").output)
    assert [(entry["state"], entry["review"]["decision"]) for entry in report["links"]] == [("excluded", "ignore")]


def test_a_check_writes_around_a_decision_on_both_backends(tmp_path: Path, database: str) -> None:
    url = "https://news.example/story"
    with Store.open(tmp_path, database) as store:
        link_id = store.ensure_link(url)
        store.update_link(link_id, state="ok", reason=None)
        read = store.link_by_id(link_id)  # what a check read before fetching
        assert store.record_check_unless_decided(read, checked_at=utcnow(), verdict="changed", reason="drift",
                                                 state="changed", link_updates={"state": "changed"}) is None
        assert store.link_by_id(link_id)["state"] == "changed"  # nobody decided: the check's state
        read = store.link_by_id(link_id)
        with store.atomic():  # a reviewer ignores the link meanwhile
            store.lock_link(link_id)
            store.update_link(link_id, state="excluded", reason="ignored")
        kept = store.record_check_unless_decided(read, checked_at=utcnow(), verdict="dead", reason="http-404",
                                                 state="dead", link_updates={"state": "dead", "reason": "http-404"})
        link = store.link_by_id(link_id)
        last = store.checks(link_id)[-1]
    assert kept == "excluded" and (link["state"], link["reason"]) == ("excluded", "ignored")
    assert last["verdict"] == "dead" and last["state"] == "excluded" and "reviewer decided" in last["detail"]
    assert link["last_check_id"] != last["id"]  # not marked checked: the next check judges it again
