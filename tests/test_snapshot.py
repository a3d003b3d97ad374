"""`archiver snapshot URL` end to end: real server, real WARCs, read back by warcio, cdxj-indexer and pywb."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from archiver.cli import cli
from archiver.capture.warc import read_record

from .pywb_replay import PywbReplay
from .server import TestServer

BIN = Path(sys.executable).parent
PAGE = (Path(__file__).resolve().parent / "data" / "corpus" / "pages" / "blog.python.org.html").read_bytes()


def write_config(tmp_path: Path, extra: str = "", *, allow_private: bool = True) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[archive]\ndir = "archives"\n[fetch]\nallow_private_networks = {str(allow_private).lower()}\n'
        f'per_host_delay = "0s"\nretries = 0\nconnect_timeout = "2s"\nread_timeout = "2s"\n'
        f'total_timeout = "3s"\n{extra}'
    )
    return path


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    return result.exit_code, result.output


def warcs(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "archives" / "warcs").glob("*.warc.gz*"))


def records(tmp_path: Path) -> list[tuple[str, str | None, object]]:
    out = []
    for path in warcs(tmp_path):
        with open(path, "rb") as handle:
            for record in ArchiveIterator(handle):
                out.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"), record))
    return out


def warcio_check(tmp_path: Path) -> None:
    files = [str(p) for p in warcs(tmp_path)]
    done = subprocess.run([str(BIN / "warcio"), "check", "-v", *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def cdxj_urls(tmp_path: Path) -> list[str]:
    files = [str(p) for p in warcs(tmp_path)]
    done = subprocess.run([str(BIN / "cdxj-indexer"), *files], capture_output=True, text=True, check=True)
    return [json.loads(line.split(" ", 2)[2])["url"] for line in done.stdout.splitlines() if line.strip()]


def timestamp_of(tmp_path: Path, url: str) -> str:
    for rec_type, target, record in records(tmp_path):
        if rec_type in ("response", "revisit") and target == url:
            date = record.rec_headers.get_header("WARC-Date")  # type: ignore[attr-defined]
            return "".join(ch for ch in date if ch.isdigit())[:14]
    raise AssertionError(f"no response for {url}")


def test_gzip_chunked_page_is_stored_as_sent_and_replays_byte_identical(
    tmp_path: Path, server: TestServer, pywb: PywbReplay
) -> None:
    url = server.route("/snap/gzip-chunked", PAGE, gzip=True, chunked=True)
    config = write_config(tmp_path)
    code, output = run(config, "snapshot", url)
    assert code == 0, output
    assert output.startswith(f"200  {url}  ")
    assert ".warc.gz:" in output and "[ok]" in output

    warcio_check(tmp_path)
    kinds = [(t, u) for t, u, _ in records(tmp_path)]
    assert kinds[0][0] == "warcinfo"
    assert ("request", url) in kinds and ("response", url) in kinds
    assert url in cdxj_urls(tmp_path)
    response = next(r for t, u, r in records(tmp_path) if t == "response")
    headers = response.http_headers  # type: ignore[attr-defined]
    assert headers.get_header("Content-Encoding") == "gzip"
    assert headers.get_header("Transfer-Encoding") is None

    coll = pywb.add(tmp_path / "archives" / "warcs")
    replayed = pywb.replay(coll, url, timestamp_of(tmp_path, url))
    assert replayed.status == 200
    assert replayed.header("Content-Encoding") == "gzip"
    assert gzip.decompress(replayed.body) == PAGE


def test_three_hop_redirect_chain_records_every_hop(
    tmp_path: Path, server: TestServer, pywb: PywbReplay
) -> None:
    final = server.route("/snap/chain/final", PAGE)
    server.route("/snap/chain/3", status=307, headers={"Location": "/snap/chain/final"})
    server.route("/snap/chain/2", status=302, headers={"Location": server.url("/snap/chain/3")})
    start = server.route("/snap/chain/1", status=301, headers={"Location": "/snap/chain/2"})
    config = write_config(tmp_path)
    code, output = run(config, "snapshot", start)
    assert code == 0, output
    assert f"200  {final}" in output and "3 redirect(s)" in output

    warcio_check(tmp_path)
    hops = [server.url(p) for p in ("/snap/chain/1", "/snap/chain/2", "/snap/chain/3", "/snap/chain/final")]
    indexed = cdxj_urls(tmp_path)
    for hop in hops:
        assert hop in indexed

    coll = pywb.add(tmp_path / "archives" / "warcs")
    stamp = timestamp_of(tmp_path, final)
    assert pywb.replay(coll, hops[0], stamp).status == 301
    assert pywb.replay(coll, hops[1], stamp).status == 302
    assert pywb.replay(coll, hops[2], stamp).status == 307
    assert pywb.replay(coll, final, stamp).body == PAGE


def test_unchanged_resnapshot_is_a_revisit_that_pywb_resolves(
    tmp_path: Path, server: TestServer, pywb: PywbReplay
) -> None:
    url = server.route("/snap/revisit", PAGE)
    config = write_config(tmp_path)
    assert run(config, "snapshot", url)[0] == 0
    time.sleep(1.1)  # a later second, so pywb sees two captures
    code, output = run(config, "snapshot", url)
    assert code == 0 and "unchanged: revisit record" in output

    warcio_check(tmp_path)
    revisits = [r for t, u, r in records(tmp_path) if t == "revisit"]
    assert len(revisits) == 1
    head = revisits[0].rec_headers  # type: ignore[attr-defined]
    assert head.get_header("WARC-Profile").endswith("/revisit/identical-payload-digest")
    assert head.get_header("WARC-Refers-To-Target-URI") == url
    assert head.get_header("WARC-Refers-To-Date")

    coll = pywb.add(tmp_path / "archives" / "warcs")
    stamp = "".join(ch for ch in head.get_header("WARC-Date") if ch.isdigit())[:14]
    replayed = pywb.replay(coll, url, stamp)
    assert replayed.status == 200 and replayed.body == PAGE


def test_body_over_max_body_is_truncated_and_marked(tmp_path: Path, server: TestServer) -> None:
    url = server.route("/snap/big", b"x" * 300_000, content_type="application/octet-stream")
    config = write_config(tmp_path, 'max_body = "100KB"\n')
    code, output = run(config, "snapshot", url)
    assert code == 0, output
    assert "100000 bytes" in output and "truncated (length)" in output
    warcio_check(tmp_path)
    response = next(r for t, u, r in records(tmp_path) if t == "response")
    assert response.rec_headers.get_header("WARC-Truncated") == "length"  # type: ignore[attr-defined]


def test_server_that_never_answers_times_out_within_the_bound(tmp_path: Path) -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)  # accepts connections, never answers
    try:
        config = write_config(tmp_path)
        started = time.monotonic()
        code, output = run(config, "snapshot", f"http://127.0.0.1:{listener.getsockname()[1]}/hang")
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    assert code == 4  # every capture failed
    assert "FAILED" in output and "timeout" in output and "[failing]" in output
    assert elapsed < 3 + 2  # total_timeout 3s, plus start-up slack


def test_loopback_is_refused_unless_allowed(tmp_path: Path, server: TestServer) -> None:
    url = server.route("/snap/private", PAGE)
    config = write_config(tmp_path, allow_private=False)
    code, output = run(config, "snapshot", url)
    assert code == 4  # every capture failed
    assert "private-network" in output and "[excluded]" in output
    assert server.routes["/snap/private"].hits == 0
    assert not any(t == "response" for t, _, _ in records(tmp_path))


def test_redirect_into_a_private_network_is_refused(tmp_path: Path, server: TestServer, make_server) -> None:
    import asyncio

    from archiver.config import load_config
    from archiver.capture.fetch import Fetcher

    public = make_server()  # pretend this loopback host is on the public internet
    target = server.route("/snap/secret", b"internal")
    start = public.route("/go", status=302, headers={"Location": target})
    config = load_config(write_config(tmp_path, allow_private=False))

    async def go() -> object:
        allowed = {public.host}
        async with Fetcher(config.fetch, temp_dir=tmp_path, address_allowed=lambda ip: str(ip) in allowed) as f:
            return await f.fetch(start)

    result = asyncio.run(go())
    assert result.error == "private-network"  # type: ignore[attr-defined]
    assert [h.status for h in result.hops] == [302]  # type: ignore[attr-defined]
    assert server.routes["/snap/secret"].hits == 0


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)"])
def test_non_http_schemes_are_rejected_with_a_clear_message(tmp_path: Path, url: str) -> None:
    code, output = run(write_config(tmp_path), "snapshot", url)
    assert code == 2
    assert "only http and https URLs are archived" in output and url in output


def test_snapshot_json_output(tmp_path: Path, server: TestServer) -> None:
    url = server.route("/snap/json", PAGE)
    code, output = run(write_config(tmp_path), "snapshot", "--format", "json", url)
    assert code == 0
    [entry] = json.loads(output)
    assert entry["http_status"] == 200 and entry["state"] == "ok" and entry["warc"].endswith(".warc.gz")
    stored = read_record(tmp_path / "archives" / "warcs", entry["warc"], entry["offset"])
    assert stored.payload == PAGE


def test_kill_9_while_writing_is_repaired_by_the_next_run(tmp_path: Path) -> None:
    slow = TestServer().start()
    try:
        urls = [slow.route(f"/kill/{n}", PAGE + str(n).encode(), delay=0.05) for n in range(200)]
        config = write_config(tmp_path, "concurrency = 4\n")
        proc = subprocess.Popen([str(BIN / "archiver"), "--config", str(config), "snapshot", *urls],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        db = tmp_path / "archives" / "archive.db"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if db.exists() and count_rows(db, "SELECT count(*) FROM captures") >= 20:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        open_files = list((tmp_path / "archives" / "warcs").glob("*.warc.gz.open"))
        assert len(open_files) == 1
        with open(open_files[0], "ab") as handle:  # and a torn record at the end
            handle.write(gzip.compress(b"WARC/1.1\r\nWARC-Type: response\r\n")[:40])
        committed = count_rows(db, "SELECT count(*) FROM captures")

        code, output = run(config, "snapshot", urls[-1])  # the next run
        assert code == 0, output
    finally:
        slow.stop()
    assert not list((tmp_path / "archives" / "warcs").glob("*.open"))
    warcio_check(tmp_path)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM captures").fetchone()[0] == committed + 1
    for warc, offset, length in conn.execute("SELECT warc, offset, length FROM records"):
        stored = read_record(tmp_path / "archives" / "warcs", warc, offset, length)
        assert stored.rec_type in ("request", "response", "revisit")


def count_rows(db: Path, sql: str) -> int:
    """A count from the archive database of a running (or killed) process; 0 when not there yet."""
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
