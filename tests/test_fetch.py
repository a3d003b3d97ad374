"""Single-URL fetching against real local servers: bodies, redirects, guards, failures."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import gzip
import hashlib
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.config import Config, FetchConfig
from archiver.capture.fetch import Fetcher, fetch_one, parse_target
from archiver.models import EXCLUSION_REASONS, FETCH_FAILURE_REASONS, FetchResult
from archiver.capture.netguard import is_public_address

from .server import TestServer, drop_connection, respond


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def run_fetch(
    fetch: FetchConfig, url: str, tmp_path: Path, **options: Any
) -> FetchResult:
    """One fetch through a fresh Fetcher (resolver / address_allowed passed through)."""

    async def go() -> FetchResult:
        async with Fetcher(fetch, temp_dir=tmp_path / "tmp", **options) as fetcher:
            return await fetcher.fetch(url)

    return asyncio.run(go())


@pytest.fixture
def fetch_config(config: Config) -> FetchConfig:
    return config.fetch


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A socket that accepts connections (kernel backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    sock.close()


def to_loopback(host: str, port: int) -> list[str]:
    """A resolver that sends every name to 127.0.0.1."""
    return ["127.0.0.1"]


# --- bodies -----------------------------------------------------------------


def test_gzip_chunked_body_is_stored_as_sent(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    page = b"<html><body>" + b"cited words " * 2000 + b"</body></html>"
    sent = gzip.compress(page, mtime=0)
    url = server.route("/f/gzip-chunked", body=sent, headers={"Content-Encoding": "gzip"}, chunked=True)
    result = run_fetch(fetch_config, url, tmp_path)
    assert result.ok and result.status == 200
    hop = result.hops[0]
    assert hop.body_path is not None and hop.body_path.read_bytes() == sent
    assert hop.body_length == len(sent)
    assert hop.payload_digest == sha1_b32(sent)
    assert hop.header("content-encoding") == "gzip"
    assert hop.header("transfer-encoding") is None
    assert hop.header("x-archive-orig-transfer-encoding") == "chunked"
    assert hop.truncated is None
    assert gzip.decompress(hop.body_path.read_bytes()) == page


def test_server_gzip_route_is_not_decompressed(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    page = b"<p>hello</p>" * 500
    url = server.route("/f/gzip", body=page, gzip=True)
    hop = run_fetch(fetch_config, url, tmp_path).hops[0]
    assert hop.body_path is not None
    assert gzip.decompress(hop.body_path.read_bytes()) == page
    assert hop.body_length < len(page)


def test_hop_records_request_and_peer(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    seen: dict[str, str] = {}

    def handler(req: BaseHTTPRequestHandler) -> None:
        seen.update(req.headers.items())
        respond(req, 200, b"hello", {"X-Custom": "Value"})

    url = server.route("/f/headers", handler=handler)
    before = dt.datetime.now(dt.timezone.utc)
    hop = run_fetch(fetch_config, url, tmp_path).hops[0]
    sent = dict(hop.request_headers)
    assert sent[b"Host"] == f"127.0.0.1:{server.port}".encode()
    assert sent[b"User-Agent"] == fetch_config.user_agent.encode() == seen["User-Agent"].encode()
    assert sent[b"Accept-Encoding"] == b"gzip, deflate"  # what extract.decode_body can undo
    assert (b"X-Custom", b"Value") in hop.response_headers  # raw case kept
    assert (hop.http_version, hop.status, hop.reason, hop.method) == ("HTTP/1.1", 200, "OK", "GET")
    assert hop.ip == "127.0.0.1"
    assert hop.started_at.tzinfo is not None and hop.started_at >= before - dt.timedelta(seconds=1)
    assert hop.url == url


def test_max_body_truncates_at_the_cap(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    body = bytes(range(256)) * 400  # 102,400 bytes
    url = server.route("/f/big", body=body, content_type="application/octet-stream")
    result = run_fetch(replace(fetch_config, max_body=10_000), url, tmp_path)
    hop = result.hops[0]
    assert result.error is None and hop.truncated == "length"
    assert hop.body_path is not None and hop.body_path.stat().st_size == 10_000 == hop.body_length
    assert hop.payload_digest == sha1_b32(body[:10_000])


def test_body_exactly_at_the_cap_is_not_truncated(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    url = server.route("/f/exact", body=b"x" * 5000)
    hop = run_fetch(replace(fetch_config, max_body=5000), url, tmp_path).hops[0]
    assert hop.truncated is None and hop.body_length == 5000


# --- redirects --------------------------------------------------------------


def test_three_hop_redirect_chain(
    server: TestServer, make_server: Callable[[], TestServer], fetch_config: FetchConfig, tmp_path: Path
) -> None:
    other = make_server()
    final = other.route("/f/chain-end", body=b"<html>landed</html>")
    server.route("/f/chain-2", status=307, headers={"Location": final}, body=b"moved")
    server.route("/f/chain-1", status=302, headers={"Location": "chain-2"})  # relative
    start = server.route("/f/chain-0", status=301, headers={"Location": "/f/chain-1"})
    result = run_fetch(fetch_config, start, tmp_path)
    assert result.ok
    assert [hop.status for hop in result.hops] == [301, 302, 307, 200]
    assert [hop.header("location") for hop in result.hops] == ["/f/chain-1", "chain-2", final, None]
    assert [hop.url for hop in result.hops] == [start, server.url("/f/chain-1"), server.url("/f/chain-2"), final]
    assert result.final_url == final
    assert [hop.ip for hop in result.hops] == ["127.0.0.1"] * 3 + [other.host]
    assert result.hops[2].body_path is not None and result.hops[2].body_path.read_bytes() == b"moved"
    assert all(hop.body_path is not None and hop.body_path.exists() for hop in result.hops)


def test_too_many_redirects(server: TestServer, fetch_config: FetchConfig, tmp_path: Path) -> None:
    url = server.route("/f/loop", status=302, headers={"Location": "/f/loop"})
    result = run_fetch(replace(fetch_config, max_redirects=3), url, tmp_path)
    assert result.error == "too-many-redirects" and "3" in result.detail
    assert len(result.hops) == 4


def test_redirect_to_file_scheme_is_refused(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    url = server.route("/f/to-file", status=302, headers={"Location": "file:///etc/passwd"})
    result = run_fetch(fetch_config, url, tmp_path)
    assert result.error == "scheme" and "file:" in result.detail
    assert [hop.status for hop in result.hops] == [302]


def test_cookies_follow_the_chain_but_not_later_fetches(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    cookie = {"Set-Cookie": "seen=1; Path=/", "Location": "/f/cookie-need"}
    server.route("/f/cookie-set", status=302, headers=cookie)

    def need(req: BaseHTTPRequestHandler) -> None:
        ok = "seen=1" in (req.headers.get("Cookie") or "")
        respond(req, 200 if ok else 403)

    server.route("/f/cookie-need", handler=need)

    async def go() -> list[FetchResult]:
        async with Fetcher(fetch_config, temp_dir=tmp_path) as fetcher:
            first = await fetcher.fetch(server.url("/f/cookie-set"))
            return [first, await fetcher.fetch(server.url("/f/cookie-need"))]

    first, second = asyncio.run(go())
    assert first.status == 200 and second.status == 403


# --- timeouts and broken servers ---------------------------------------------


def test_server_that_never_answers_times_out_within_total(
    blackhole: str, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    config = replace(fetch_config, read_timeout=30.0, total_timeout=1.0)
    started = time.monotonic()
    result = run_fetch(config, blackhole, tmp_path)
    elapsed = time.monotonic() - started
    assert result.error == "timeout" and "total_timeout" in result.detail
    assert 0.9 <= elapsed < 1.6
    assert result.hops == []


def test_read_timeout(blackhole: str, fetch_config: FetchConfig, tmp_path: Path) -> None:
    started = time.monotonic()
    result = run_fetch(replace(fetch_config, read_timeout=0.4, total_timeout=10.0), blackhole, tmp_path)
    assert result.error == "timeout" and time.monotonic() - started < 1.2


def test_stalled_body_keeps_the_partial_hop(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    def stall(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", "1000")
        req.end_headers()
        req.wfile.write(b"a" * 100)
        req.wfile.flush()
        time.sleep(2)

    url = server.route("/f/stall", handler=stall)
    result = run_fetch(replace(fetch_config, read_timeout=0.3), url, tmp_path)
    assert result.error == "timeout"
    hop = result.hops[0]
    assert hop.truncated == "time" and hop.body_length == 100 and hop.payload_digest == sha1_b32(b"a" * 100)


def test_body_cut_off_by_the_server(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    def cut(req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Length", "1000")
        req.end_headers()
        req.wfile.write(b"b" * 300)
        drop_connection(req)

    result = run_fetch(fetch_config, server.route("/f/cut", handler=cut), tmp_path)
    assert result.error == "connection"
    assert result.hops[0].truncated == "disconnect" and result.hops[0].body_length == 300


def test_connection_closed_without_answer(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    result = run_fetch(fetch_config, server.route("/f/drop", handler=drop_connection), tmp_path)
    assert result.error == "connection" and result.hops == []
    assert result.detail


def test_connection_refused(closed_port: int, fetch_config: FetchConfig, tmp_path: Path) -> None:
    result = run_fetch(fetch_config, f"http://127.0.0.1:{closed_port}/x", tmp_path)
    assert result.error == "refused"
    assert result.detail == f"connection refused by 127.0.0.1:{closed_port}"


# --- names and addresses -----------------------------------------------------


def test_dns_failure_from_resolver(fetch_config: FetchConfig, tmp_path: Path) -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    result = run_fetch(fetch_config, "http://nosuchhost.invalid/page", tmp_path, resolver=resolver)
    assert (result.error, result.detail) == ("dns", "no DNS record for nosuchhost.invalid")


def test_async_resolver_is_used(server: TestServer, fetch_config: FetchConfig, tmp_path: Path) -> None:
    asked: list[tuple[str, int]] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return ["127.0.0.1"]

    server.route("site.test/f/named", body=b"by name")
    result = run_fetch(fetch_config, f"http://site.test:{server.port}/f/named", tmp_path, resolver=resolver)
    assert result.ok and result.hops[0].ip == "127.0.0.1" and asked == [("site.test", server.port)]
    assert result.hops[0].body_path is not None and result.hops[0].body_path.read_bytes() == b"by name"


def test_resolver_that_finds_nothing(fetch_config: FetchConfig, tmp_path: Path) -> None:
    result = run_fetch(fetch_config, "http://empty.test/", tmp_path, resolver=lambda host, port: [])
    assert result.error == "dns"


def test_loopback_refused_unless_allowed(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    url = server.route("/f/private", body=b"secret")
    refused = run_fetch(replace(fetch_config, allow_private_networks=False), url, tmp_path)
    assert refused.error == "private-network" and "127.0.0.1" in refused.detail and refused.hops == []
    assert server.routes["/f/private"].hits == 0
    allowed = run_fetch(fetch_config, url, tmp_path)
    assert allowed.ok


def test_name_resolving_to_loopback_is_refused(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    config = replace(fetch_config, allow_private_networks=False)
    result = run_fetch(config, f"http://intranet.example:{server.port}/", tmp_path, resolver=to_loopback)
    assert result.error == "private-network" and "resolves to 127.0.0.1" in result.detail
    localhost = run_fetch(config, f"http://localhost:{server.port}/", tmp_path)  # system resolver
    assert localhost.error == "private-network"


def test_any_private_address_refuses_the_host(
    server: TestServer, make_server: Callable[[], TestServer], fetch_config: FetchConfig, tmp_path: Path
) -> None:
    public = make_server()
    pretend = ipaddress.ip_address(public.host)
    result = run_fetch(
        replace(fetch_config, allow_private_networks=False), f"http://mixed.test:{public.port}/", tmp_path,
        resolver=lambda h, p: [public.host, "127.0.0.1"], address_allowed=lambda a: a == pretend,
    )  # fmt: skip
    assert result.error == "private-network"


def test_private_network_refused_through_a_redirect(
    server: TestServer, make_server: Callable[[], TestServer], fetch_config: FetchConfig, tmp_path: Path
) -> None:
    public = make_server()  # pretend this loopback address is a public site
    pretend = ipaddress.ip_address(public.host)
    target = server.route("/f/internal", body=b"internal")
    start = public.route("/f/go-internal", status=302, headers={"Location": target})
    result = run_fetch(
        replace(fetch_config, allow_private_networks=False), start, tmp_path, address_allowed=lambda a: a == pretend
    )
    assert result.error == "private-network"
    assert [hop.status for hop in result.hops] == [302] and result.hops[0].ip == public.host
    assert server.routes["/f/internal"].hits == 0


def test_public_address_policy() -> None:
    for text in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"]:
        assert is_public_address(ipaddress.ip_address(text)), text
    private = [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
        "100.64.0.1", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1", "::",
        "::ffff:127.0.0.1", "2002:7f00:1::", "ff02::1",
    ]  # fmt: skip
    for text in private:
        assert not is_public_address(ipaddress.ip_address(text)), text


# --- URLs --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/file", "javascript:alert(1)", "data:text/html,hi", "mailto:a@b.c"]
)
def test_other_schemes_are_refused(url: str, fetch_config: FetchConfig, tmp_path: Path) -> None:
    result = run_fetch(fetch_config, url, tmp_path)
    scheme = url.split(":")[0]
    assert result.error == "scheme" and result.error in EXCLUSION_REASONS
    assert result.detail.startswith(f"{scheme}: URLs are not fetched, only http and https")


@pytest.mark.parametrize(
    "url", ["example.com/page", "http:///path", "http://exa mple.com/", "http://host:99999/", "http://[::1/"]
)
def test_malformed_urls(url: str, fetch_config: FetchConfig, tmp_path: Path) -> None:
    result = run_fetch(fetch_config, url, tmp_path)
    assert result.error == "invalid-url" and result.error in FETCH_FAILURE_REASONS and result.detail


def test_fragment_is_not_requested() -> None:
    target, problem = parse_target("https://Example.com/a#section")
    assert problem is None and target is not None and str(target) == "https://example.com/a"


# --- TLS -----------------------------------------------------------------------


def _tls_files(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for ``name`` signed by it: (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def build(subject: str, issuer: str, key: Any, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )  # fmt: skip
        if not ca:
            names = x509.SubjectAlternativeName([x509.DNSName(subject)])
            builder = builder.add_extension(names, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("archiver test CA", "archiver test CA", ca_key, ca_key, True)
    leaf = build(name, "archiver test CA", leaf_key, ca_key, False)
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[TestServer, Path]]:
    ca, cert, key = _tls_files(tmp_path, "archiver.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    srv = TestServer(ssl_context=context).start()
    srv.route("/secure", body=b"over tls")
    yield srv, ca
    srv.stop()


def test_tls_uses_the_host_name_and_ssl_cert_file(
    tls_server: tuple[TestServer, Path],
    fetch_config: FetchConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv, ca = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    result = run_fetch(fetch_config, f"https://archiver.test:{srv.port}/secure", tmp_path, resolver=to_loopback)
    assert result.ok, result.detail
    assert result.hops[0].ip == "127.0.0.1"
    wrong = run_fetch(fetch_config, f"https://other.test:{srv.port}/secure", tmp_path, resolver=to_loopback)
    assert wrong.error == "tls" and "other.test" in wrong.detail


def test_untrusted_certificate_is_a_tls_error(
    tls_server: tuple[TestServer, Path],
    fetch_config: FetchConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    srv, _ = tls_server
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    result = run_fetch(fetch_config, f"https://archiver.test:{srv.port}/secure", tmp_path, resolver=to_loopback)
    assert result.error == "tls" and "certificate" in result.detail


# --- housekeeping ------------------------------------------------------------------


def test_fetch_one_and_cleanup(server: TestServer, fetch_config: FetchConfig, tmp_path: Path) -> None:
    url = server.route("/f/one", body=b"one")
    result = fetch_one(fetch_config, url, tmp_path / "bodies")
    assert result.ok and result.attempts == 1
    assert len(list((tmp_path / "bodies").iterdir())) == 1
    result.cleanup()
    assert list((tmp_path / "bodies").iterdir()) == []


def test_failures_leave_no_temp_files(
    closed_port: int, blackhole: str, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    config = replace(fetch_config, total_timeout=0.3)
    for url in [f"http://127.0.0.1:{closed_port}/", blackhole, "ftp://x/"]:
        result = fetch_one(config, url, tmp_path / "bodies")
        assert result.error and not result.hops
    assert list((tmp_path / "bodies").iterdir()) == []


# --- more guarantees ------------------------------------------------------------------


def test_every_new_connection_resolves_and_checks_again(
    server: TestServer, make_server: Callable[[], TestServer], fetch_config: FetchConfig, tmp_path: Path
) -> None:
    """DNS rebinding: the name first answers a (pretend) public address, then loopback."""
    public = make_server()
    pretend = ipaddress.ip_address(public.host)
    answers = iter([[public.host], ["127.0.0.1"]])
    server.route("/f/rebound", body=b"internal")
    public.route("/f/rebind", status=302, headers={"Location": f"http://rebind.test:{server.port}/f/rebound"})
    result = run_fetch(
        replace(fetch_config, allow_private_networks=False), f"http://rebind.test:{public.port}/f/rebind", tmp_path,
        resolver=lambda h, p: next(answers), address_allowed=lambda a: a == pretend,
    )  # fmt: skip
    assert result.error == "private-network" and [hop.status for hop in result.hops] == [302]
    assert server.routes["/f/rebound"].hits == 0


def test_a_server_speaking_nonsense(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    def nonsense(req: BaseHTTPRequestHandler) -> None:
        req.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        drop_connection(req)

    result = run_fetch(fetch_config, server.route("/f/nonsense", handler=nonsense), tmp_path)
    assert result.error == "connection" and result.hops == []


def test_concurrent_fetch_calls_share_one_fetcher(
    server: TestServer, fetch_config: FetchConfig, tmp_path: Path
) -> None:
    urls = [server.route(f"/f/together/{i}", body=f"page {i}") for i in range(10)]

    async def go() -> list[FetchResult]:
        async with Fetcher(replace(fetch_config, concurrency=3), temp_dir=tmp_path) as fetcher:
            return list(await asyncio.gather(*(fetcher.fetch(url) for url in urls)))

    results = asyncio.run(go())
    assert [r.final_url for r in results] == urls and all(r.ok for r in results)
    bodies = [r.hops[0].body_path.read_bytes() for r in results if r.hops[0].body_path]
    assert bodies == [f"page {i}".encode() for i in range(10)]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=120), st.from_regex(r"\A(https?|ftp|file):/{0,3}[^\s]{0,60}\Z")))
def test_parse_target_never_raises(text: str) -> None:
    target, problem = parse_target(text)
    assert (target is None) != (problem is None)
    if problem is not None:
        assert problem[0] in ("invalid-url", "scheme") and problem[1]
    else:
        assert target is not None and target.scheme in ("http", "https") and target.host
