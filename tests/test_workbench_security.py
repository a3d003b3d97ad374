"""The workbench is safe by default (SPEC §9): token, CSRF, Host, headers, replay on another origin; Memento."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from .review_world import page, prose, write_config
from .review_world import run as run_here
from .server import TestServer
from .workbench import browser, free_port, serving  # noqa: F401  (browser is a fixture)


def run(config: Path, *args: str, code: int = 0) -> Any:
    with ThreadPoolExecutor(1) as pool:  # Playwright's event loop may run in this thread
        return pool.submit(run_here, config, *args, code=code).result()


def decisions_count(tmp_path: Path) -> int:
    conn = sqlite3.connect(tmp_path / "archives" / "archive.db")
    try:
        return int(conn.execute("SELECT count(*) FROM decisions").fetchone()[0])
    finally:
        conn.close()


HOSTILE = """<script>
(async function () {
  var wb = "http://127.0.0.1:%(port)d", out = [];
  try { var r = await fetch(wb + "/api/links", {credentials: "include"}); out.push("read:" + (await r.text()).length); }
  catch (e) { out.push("read-blocked"); }
  try { var p = await fetch(wb + "/", {credentials: "include"}); var html = await p.text();
        out.push("page:" + html.length); } catch (e) { out.push("page-blocked"); }
  try { await fetch(wb + "/api/decisions", {method: "POST", credentials: "include",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify({link_id: 1, decision: "ignore"})});
        out.push("json-post-sent"); } catch (e) { out.push("json-post-blocked"); }
  try { await fetch(wb + "/api/decisions", {method: "POST", mode: "no-cors", credentials: "include",
        headers: {"Content-Type": "text/plain"}, body: JSON.stringify({link_id: 1, decision: "ignore"})});
        out.push("blind-post-sent"); } catch (e) { out.push("blind-post-blocked"); }
  document.cookie = "archiver_session=forged; path=/";
  var frame = document.createElement("iframe"); frame.src = wb + "/"; document.body.appendChild(frame);
  await new Promise(function (done) { setTimeout(done, 800); });
  try { out.push("frame:" + frame.contentDocument.body.innerHTML.length); } catch (e) { out.push("frame-blocked"); }
  document.title = "hostile " + out.join(" ");
})();
</script>"""


@pytest.mark.slow
@pytest.mark.parametrize("token", ["", "a-long-random-token"], ids=["loopback", "logged-in"])
def test_a_hostile_archived_page_can_neither_read_nor_post_to_the_workbench(
        tmp_path: Path, server: TestServer, browser: Any, token: str) -> None:
    port = free_port()
    url = server.route(f"/hostile/page{len(token)}", page("Hostile", prose(70), extra_head=HOSTILE % {"port": port}))
    config = write_config(tmp_path, extra=f'[serve]\ntoken = "{token}"\n')
    run(config, "snapshot", url)
    with serving(config, port=port) as (workbench, replay):
        context = browser.new_context()
        tab = context.new_page()
        tab.goto(workbench)  # the reviewer has the workbench open (with a token: logged in, the cookie set)
        if token:
            tab.locator('input[name="token"]').fill(token)
            tab.locator('form.login button[type="submit"]').click()
            tab.wait_for_selector("section.summary")
        api = context.request.get(workbench + "api/links/1").json()
        for capture in api["captures"]:
            for mode in ("raw", "replay"):  # raw: the page's own script, unrewritten
                hostile = context.new_page()
                hostile.goto(capture[mode])
                hostile.wait_for_function("document.title.indexOf('hostile ') === 0", timeout=15000)
                title = hostile.title()
                # rewritten replay: pywb's wombat sends the page's requests to the archive (replay origin),
                # so they never reach the workbench; raw: the page's own requests, which the browser blocks
                if mode == "raw":
                    assert "read-blocked" in title and "page-blocked" in title and "frame-blocked" in title, title
                hostile.close()
        assert decisions_count(tmp_path) == 0
        state = context.request.get(workbench + "api/links/1").json()["link"]["state"]
        assert state == "ok"
        tab.goto(workbench + "link/1")  # while the reviewer's own page can decide
        tab.locator("form.decide textarea").fill("looked at it")
        tab.locator('form.decide button[value="note"]').click()
        tab.wait_for_selector("table.decisions tr[data-decision]")
        assert decisions_count(tmp_path) == 1
        context.close()


def test_serve_refuses_another_address_without_a_token(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = subprocess.run([sys.executable, "-m", "archiver", "--config", str(config), "serve", "--host", "0.0.0.0"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "[serve] token" in result.stderr and "0.0.0.0" in result.stderr


@pytest.mark.slow
def test_token_login_csrf_and_host_refusals(tmp_path: Path, server: TestServer) -> None:
    url = server.route("/security/page", page("Guarded", prose(80)))
    config = write_config(tmp_path, extra='[serve]\ntoken = "s3cret-token-for-tests"\n')
    run(config, "snapshot", url)
    with serving(config) as (workbench, replay), httpx.Client(follow_redirects=False, timeout=10) as client:
        assert client.get(workbench).status_code == 303  # to the login form
        assert client.get(workbench + "api/links").status_code == 401
        detail = client.get(workbench + "api/links/1", headers={"Authorization": "Bearer s3cret-token-for-tests"})
        assert detail.status_code == 200
        raw = detail.json()["captures"][0]["raw"]
        assert client.get(raw).status_code == 401  # the replay origin wants the token too
        assert client.post(workbench + "login", data={"token": "wrong"}).status_code == 403
        login = client.post(workbench + "login", data={"token": "s3cret-token-for-tests"})
        assert login.status_code == 303 and "HttpOnly" in login.headers["set-cookie"]
        assert "SameSite=Strict" in login.headers["set-cookie"]
        home = client.get(workbench)
        assert home.status_code == 200
        for header in ("content-security-policy", "x-frame-options", "cross-origin-resource-policy"):
            assert header in home.headers
        assert "script-src 'self'" in home.headers["content-security-policy"]
        assert client.get(raw).status_code == 200  # the cookie is the host's: the replay port gets it
        csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', home.text)
        assert csrf
        body = {"link_id": 1, "decision": "note", "note": "checked by hand"}
        assert client.post(workbench + "api/decisions", json=body).status_code == 403  # no CSRF token
        assert client.post(workbench + "api/decisions", json=body,
                           headers={"X-CSRF-Token": "0" * 64}).status_code == 403
        assert client.post(workbench + "api/decisions", json=body, headers={
            "X-CSRF-Token": csrf[1], "Origin": "http://127.0.0.1:1"}).status_code == 403  # another origin
        made = client.post(workbench + "api/decisions", json=body, headers={"X-CSRF-Token": csrf[1]})
        assert made.status_code == 201 and made.json()["decided_by"]
        bearer = httpx.post(workbench + f"api/decisions/{made.json()['id']}/undo",
                            headers={"Authorization": "Bearer s3cret-token-for-tests"}, timeout=10)
        assert bearer.status_code == 200 and bearer.json()["undone_at"]
    open_config = write_config(tmp_path)  # no token: loopback only, and only this machine's Host names
    with serving(open_config) as (workbench, replay), httpx.Client(timeout=10) as client:
        assert client.get(workbench).status_code == 200
        assert client.get(workbench, headers={"Host": "rebound.example:80"}).status_code == 403
        assert client.get(replay + "archive/", headers={"Host": "rebound.example:80"}).status_code == 403


# RFC 7089 §2.2.1 (Link header, RFC 8288 link-value) and the Memento-Datetime format (RFC 1123 in GMT).
LINK_VALUE = re.compile(r'\s*<([^>]*)>((?:\s*;\s*[a-zA-Z0-9!#$&+.^_`|~-]+="[^"]*"|\s*;\s*[a-zA-Z0-9_-]+=[^\s;,"]+)*)\s*')
HTTP_DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                       r"\d{4} \d{2}:\d{2}:\d{2} GMT$")


def parse_links(header: str) -> list[tuple[str, dict[str, str]]]:
    """Split a Link header into (target, params); fails on anything the grammar does not allow."""
    out, position = [], 0
    while position < len(header):
        match = LINK_VALUE.match(header, position)
        assert match, f"not a link-value at {position}: {header[position:position + 80]!r}"
        params = dict((k.lower(), v.strip('"')) for k, v in re.findall(r';\s*([^=\s]+)=("[^"]*"|[^;,\s]+)', match[2]))
        out.append((match[1], params))
        position = match.end()
        if position < len(header):
            assert header[position] == ",", header[position:]
            position += 1
    return out


@pytest.mark.slow
def test_memento_timegate_and_timemap(tmp_path: Path, server: TestServer) -> None:
    url = server.route("/memento/page", page("Memento", prose(90)))
    config = write_config(tmp_path)
    run(config, "snapshot", url)
    server.route("/memento/page", page("Memento", prose(91)))
    run(config, "snapshot", url)
    with serving(config) as (_, replay), httpx.Client(timeout=10) as client:
        timemap = client.get(f"{replay}archive/timemap/link/{url}")
        assert timemap.status_code == 200 and timemap.headers["content-type"].startswith("application/link-format")
        entries = parse_links(timemap.text.replace("\n", ""))
        mementos = [(target, p) for target, p in entries if "memento" in p["rel"].split()]
        assert len(mementos) == 2
        assert any(p["rel"] == "original" and target == url for target, p in entries)
        assert any("timegate" in p["rel"].split() for _, p in entries)
        dates = sorted(parsedate_to_datetime(p["datetime"]) for _, p in mementos)
        for _, p in mementos:
            assert HTTP_DATE.match(p["datetime"]), p["datetime"]

        # TimeGate: the memento nearest Accept-Datetime, with the Memento headers
        asked = format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)
        first = client.get(f"{replay}archive/{url}", headers={"Accept-Datetime": asked})
        assert first.status_code in (200, 302)
        assert "accept-datetime" in first.headers["vary"].lower()
        assert HTTP_DATE.match(first.headers["memento-datetime"])
        assert parsedate_to_datetime(first.headers["memento-datetime"]) == dates[0]
        rels = {rel for _, p in parse_links(first.headers["link"]) for rel in p["rel"].split()}
        assert {"original", "timegate", "timemap", "memento"} <= rels
        latest = client.get(f"{replay}archive/{url}")
        assert parsedate_to_datetime(latest.headers["memento-datetime"]) == dates[1]
        assert latest.status_code in (200, 302)
