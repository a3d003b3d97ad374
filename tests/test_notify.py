"""After a sweep: newly dead, changed or moved links go to [notify] urls (Apprise), against a local webhook."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .review_world import article_citing, page, prose, run, write_config
from .server import TestServer


class Webhook:
    """A real HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, object]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                received.append({"path": self.path, **json.loads(self.rfile.read(length) or b"{}")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.received = received
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


def test_a_sweep_notifies_newly_dead_and_changed_links_once(tmp_path: Path, server: TestServer,
                                                            webhook: Webhook) -> None:
    changing = server.route("/notify/changing", page("Council", prose(50)))
    dying = server.route("/notify/dying", page("Bridge", prose(51)))
    steady = server.route("/notify/steady", page("Market", prose(52)))
    article = article_citing(tmp_path, [changing, dying, steady])
    config = write_config(tmp_path, article, f'[notify]\nurls = ["json://127.0.0.1:{webhook.port}/hook"]\n'
                                             '[serve]\npublic_url = "https://review.example.org/"\n')
    run(config, "sweep", "--no-report")
    assert webhook.received == []  # first captures: nothing needs review

    server.route("/notify/changing", page("Council", prose(53)))
    server.route("/notify/dying", page("Gone", ["Not found."]), status=404)
    out = run(config, "sweep", "--no-report").output
    assert len(webhook.received) == 1, out
    sent = webhook.received[0]
    assert sent["path"] == "/hook"
    assert "1 newly dead" in str(sent["title"]) and "1 newly changed" in str(sent["title"])
    body = str(sent["message"])
    assert dying in body and changing in body and steady not in body
    assert "https://review.example.org/link/" in body

    run(config, "sweep", "--no-report")  # nothing new: nothing sent
    assert len(webhook.received) == 1


def test_a_failed_notification_is_reported_not_a_failed_sweep(tmp_path: Path, server: TestServer) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    url = server.route("/notify/fails", page("Tunnel", prose(60)))
    article = article_citing(tmp_path, [url])
    config = write_config(tmp_path, article, f'[notify]\nurls = ["json://127.0.0.1:{closed}/hook"]\n')
    run(config, "sweep", "--no-report")
    server.route("/notify/fails", page("Gone", ["Not found."]), status=404)
    out = run(config, "sweep", "--no-report").output  # exit 0
    assert "notification not sent" in out


def test_a_link_found_dead_by_a_check_between_sweeps_is_in_the_next_sweeps_message(
        tmp_path: Path, server: TestServer, webhook: Webhook) -> None:
    dies = server.route("/notify/between", page("Mayor", prose(70)))
    stays = server.route("/notify/between-stays", page("Coast", prose(71)))
    config = write_config(tmp_path, article_citing(tmp_path, [dies, stays]),
                          f'[notify]\nurls = ["json://127.0.0.1:{webhook.port}/hook"]\n')
    run(config, "sweep", "--no-report")
    server.route("/notify/between", page("Gone", ["Not found."]), status=404)
    run(config, "check", dies)  # dead now, between two sweeps
    run(config, "sweep", "--no-report")
    assert len(webhook.received) == 1 and dies in str(webhook.received[0]["message"])
    assert stays not in str(webhook.received[0]["message"])
    run(config, "sweep", "--no-report")  # told once
    assert len(webhook.received) == 1
