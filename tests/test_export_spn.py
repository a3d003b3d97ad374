"""Save Page Now 2: a local server answering as the SPN2 API documents (job ids, status polling,
error answers, HTTP 429); what was sent and what was recorded."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from archiver.archive import Archive
from archiver.config import Config, ExternalConfig, Source
from archiver.export.spn import ACCESS_KEY_ENV, SECRET_KEY_ENV, submit_new_links
from archiver.archive.store import Store
from archiver.sweep import sweep

from .server import TestServer

PAGE = "<html><head><title>Cited</title></head><body><p>" + "Something worth citing. " * 30 + "</p></body></html>"
KEYS = {ACCESS_KEY_ENV: "myaccess", SECRET_KEY_ENV: "mysecret"}


class SaveServer:
    """SPN2 as documented: POST /save -> {"url", "job_id"}; GET /save/status/<job_id> -> pending, then
    success or error; an error answer for a blocked URL; HTTP 429 past ``capacity`` submissions."""

    def __init__(self, capacity: int = 10) -> None:
        self.capacity = capacity
        self.requests: list[dict[str, Any]] = []
        self.polls: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                owner.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers),
                                       "body": body})
                url = parse_qs(body).get("url", [""])[0]
                if sum(1 for r in owner.requests if r["method"] == "POST") > owner.capacity:
                    self._answer(429, {"status": "error", "status_ext": "error:too-many-requests",
                                       "message": "You have already reached the limit of active sessions."})
                elif "blocked" in url:
                    self._answer(200, {"status": "error", "status_ext": "error:blocked-url",
                                       "message": "This URL is in the Save Page Now service block list."})
                else:
                    job = f"spn2-{len(owner.requests):040d}"
                    self._answer(200, {"url": url, "job_id": job, "_url": url})
                    owner.polls[job] = 0
                    owner.jobs[job] = url

            def do_GET(self) -> None:  # noqa: N802
                owner.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers), "body": ""})
                job = self.path.rsplit("/", 1)[-1]
                if job not in owner.polls:
                    self._answer(200, {"status": "error", "status_ext": "error:not-found", "message": "no such job"})
                    return
                owner.polls[job] += 1
                url = owner.jobs[job]
                if owner.polls[job] < 2:
                    self._answer(200, {"status": "pending", "job_id": job, "resources": []})
                elif "unreachable" in url:
                    self._answer(200, {"status": "error", "status_ext": "error:service-unavailable",
                                       "message": "Your Save Page Now request failed.", "job_id": job})
                else:
                    self._answer(200, {"status": "success", "job_id": job, "original_url": url,
                                       "timestamp": "20261130081500", "duration_sec": 6.2, "resources": [url]})

        self.jobs: dict[str, str] = {}
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def save_url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}/save"

    def __enter__(self) -> SaveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()


def _world(config: Config, tmp_path: Path, urls: list[str], save_url: str) -> Config:
    article = tmp_path / "article.txt"
    article.write_text("An article.\n\n" + "\n".join(f"Source {n}: {u}" for n, u in enumerate(urls)) + "\n")
    return replace(config, sources=(Source(path=str(article), name="article"),),
                   external=ExternalConfig(archives=(), lookup=False, submit=True, save_url=save_url))


def test_new_links_are_submitted_polled_and_recorded(config: Config, tmp_path: Path, make_server: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    site: TestServer = make_server()
    urls = [site.route("/one", PAGE), site.route("/blocked", PAGE), site.route("/unreachable", PAGE)]
    monkeypatch.setenv(ACCESS_KEY_ENV, "myaccess")
    monkeypatch.setenv(SECRET_KEY_ENV, "mysecret")
    monkeypatch.setattr("archiver.export.spn.POLL_EVERY", 0.05)
    with SaveServer() as spn:
        world = _world(config, tmp_path, urls, spn.save_url)
        with Archive(world) as archive:
            summary = sweep(archive)
        posts = [r for r in spn.requests if r["method"] == "POST"]
        assert [parse_qs(r["body"]) for r in posts] == [{"url": [u]} for u in urls]
        for request in spn.requests:
            assert request["headers"]["Authorization"] == "LOW myaccess:mysecret"
            assert request["headers"]["Accept"] == "application/json"
        assert {r["path"] for r in posts} == {"/save"}
        assert all(r["headers"]["Content-Type"] == "application/x-www-form-urlencoded" for r in posts)
        gets = [r["path"] for r in spn.requests if r["method"] == "GET"]
        assert sorted(set(gets)) == sorted(f"/save/status/{job}" for job in spn.jobs)

        with Store.open(world.archive.dir) as store:
            rows = {row["url"]: row for row in store.submissions()}
        assert rows[urls[0]]["status"] == "success"
        assert rows[urls[0]]["memento_url"] == f"http://127.0.0.1:{spn.http.server_address[1]}/web/20261130081500/{urls[0]}"
        assert rows[urls[0]]["memento_datetime"] == "2026-11-30T08:15:00Z"
        assert rows[urls[1]]["status"] == "error" and "error:blocked-url" in rows[urls[1]]["message"]
        assert rows[urls[2]]["status"] == "error" and "error:service-unavailable" in rows[urls[2]]["message"]
        assert any("blocked-url" in problem for problem in summary.problems)

        # the next sweep submits nothing again: only newly cited URLs are
        before = len(spn.requests)
        with Archive(world) as archive:
            sweep(archive)
        assert len(spn.requests) == before
    # the secret is never stored
    for path in world.archive.dir.rglob("*"):
        if path.is_file():
            assert b"mysecret" not in path.read_bytes()


def test_429_queues_the_rest_for_the_next_sweep(config: Config, tmp_path: Path, make_server: Any) -> None:
    site: TestServer = make_server()
    urls = [site.route(f"/page{n}", PAGE) for n in range(3)]
    with SaveServer(capacity=1) as spn:
        world = _world(config, tmp_path, urls, spn.save_url)
        with Archive(world) as archive:
            summary = sweep(archive)
            ids = [row["id"] for row in archive.store.links()]
        notes = " ".join(summary.problems)
        assert "nothing was submitted" in notes  # no keys in this environment yet
        with Archive(world) as archive:
            notes_list = submit_new_links(archive, ids, env=KEYS, poll_every=0.01, poll_for=1.0)
            rows = archive.store.submissions()
        assert any("429" in note for note in notes_list)
        assert [row["status"] for row in rows].count("queued") == 2
        assert len([r for r in spn.requests if r["method"] == "POST"]) == 2  # the first, then the 429
        spn.capacity = 10
        with Archive(world) as archive:
            submit_new_links(archive, [], env=KEYS, poll_every=0.01, poll_for=1.0)
            rows = archive.store.submissions()
        assert sorted(row["status"] for row in rows) == ["success", "success", "success"]
        assert len({row["link_id"] for row in rows}) == 3


def test_submit_off_sends_nothing(config: Config, tmp_path: Path, make_server: Any) -> None:
    site: TestServer = make_server()
    with SaveServer() as spn:
        world = _world(config, tmp_path, [site.route("/quiet", PAGE)], spn.save_url)
        world = replace(world, external=replace(world.external, submit=False))
        with Archive(world) as archive:
            sweep(archive)
            assert submit_new_links(archive, [1], env=KEYS) == []
        assert spn.requests == []
