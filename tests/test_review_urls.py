"""Where the workbench and its replay are reached, and the token/CSRF guard (pure)."""

from __future__ import annotations

from pathlib import Path

from archiver.config import ServeConfig
from archiver.review.security import Guard
from archiver.review.urls import is_loopback, replay_base, replay_url, workbench_url


def test_replay_is_another_origin_derived_from_the_config() -> None:
    assert workbench_url(ServeConfig()) == "http://127.0.0.1:8080/"
    assert replay_base(ServeConfig()) == "http://127.0.0.1:8081/archive/"
    assert replay_base(ServeConfig(port=9000)) == "http://127.0.0.1:9001/archive/"
    assert replay_base(ServeConfig(replay_port=7000)) == "http://127.0.0.1:7000/archive/"
    public = ServeConfig(public_url="https://review.example.org/archiver")
    assert workbench_url(public) == "https://review.example.org/archiver/"
    assert replay_url(public) == "https://review.example.org:8081/"
    assert replay_base(ServeConfig(public_url="https://a.example/", replay_url="https://replay.example/x")) == \
        "https://replay.example/x/archive/"
    assert workbench_url(ServeConfig(host="0.0.0.0")) == "http://127.0.0.1:8080/"


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "example.org", "::"))


def test_guard_tokens() -> None:
    open_guard = Guard("")
    assert open_guard.authenticated({}, {}) and not open_guard.check_login("")
    assert open_guard.host_ok("127.0.0.1:8080") and open_guard.host_ok("localhost")
    assert not open_guard.host_ok("evil.example:8080")
    guard = Guard("tok")
    assert not guard.authenticated({}, {})
    assert guard.authenticated({"archiver_session": guard.session_value}, {})
    assert not guard.authenticated({"archiver_session": "tok"}, {})  # the cookie is not the token
    assert guard.authenticated({}, {"Authorization": "Bearer tok"})
    cookies = {"archiver_session": guard.session_value}
    token = guard.csrf_token(cookies)
    assert guard.csrf_ok(cookies, {"X-CSRF-Token": token}, "http://127.0.0.1:8080/")
    assert not guard.csrf_ok(cookies, {"X-CSRF-Token": token, "Origin": "http://127.0.0.1:8081"},
                             "http://127.0.0.1:8080/")
    assert not guard.csrf_ok(cookies, {}, "http://127.0.0.1:8080/")
    assert Guard("tok").csrf_token(cookies) != token  # a secret of this process only
    behind_proxy = {"X-CSRF-Token": token, "Origin": "https://review.example.org"}
    assert guard.csrf_ok(cookies, behind_proxy, ["http://127.0.0.1:8080/", "https://review.example.org"])


def test_workbench_answers_bad_requests_and_unknown_pages_with_their_status(tmp_path: Path) -> None:
    from archiver.config import ArchiveConfig, Config
    from archiver.review.app import create_app
    from archiver.archive.store import Store

    Store.open(tmp_path).close()
    client = create_app(Config(archive=ArchiveConfig(dir=tmp_path)), Guard(""), "http://127.0.0.1:8081/").test_client()
    local = {"Host": "127.0.0.1:8080"}
    assert client.get("/links?offset=x", headers=local).status_code == 400
    assert client.get("/?offset=x", headers=local).status_code == 400
    assert client.get("/link/5", headers=local).status_code == 404
    missing = client.get("/api/links/5", headers=local)
    assert missing.status_code == 404 and missing.json == {"error": "no such page"}
    assert "Content-Security-Policy" in missing.headers
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 403
    huge = client.post("/api/decisions", data="x" * 100_000, headers={**local, "Content-Type": "application/json",
                                                                     "X-CSRF-Token": client.get("/api/session", headers=local).json["csrf"]})
    assert huge.status_code == 413
