"""WARC writing, reading back, crash repair, CDXJ indexing and pywb replay."""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from archiver.capture import cdxj, warc
from archiver.models import FetchResult, Hop, RecordLocation, RevisitOf
from archiver.capture.warc import WarcWriter, read_payload, read_record, repair

from .pywb_replay import PywbReplay

DATA = Path(__file__).parent / "data" / "warc"
BIN = Path(sys.executable).parent
T0 = datetime(2026, 11, 28, 3, 45, 1, 123456, tzinfo=UTC)
HTML = b"<!doctype html><title>Cited</title><p>" + b"The cited sentence. " * 400 + b"</p>"


class FixedWarcWriter(WarcWriter):
    """Deterministic record ids, dates and file names (cf. warcio's FixedTestRecordMixin)."""

    def __init__(self, directory: Path, **kwargs: object) -> None:
        kwargs.setdefault("max_size", 10**9)
        kwargs.setdefault("software", "archiver/test")
        kwargs.setdefault("info", {"hostname": "test-host"})
        super().__init__(directory, **kwargs)  # type: ignore[arg-type]
        self._ids = itertools.count(1)

    def _new_record_id(self) -> str:
        return f"<urn:uuid:00000000-0000-4000-8000-{next(self._ids):012d}>"

    def _now(self) -> datetime:
        return datetime(2026, 11, 28, 3, 45, 1, 123000, tzinfo=UTC)

    def _token(self) -> str:
        return "0badcafe"


def sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def make_hop(tmp_path: Path, url: str, body: bytes = HTML, *, status: int = 200,
             headers: tuple[tuple[bytes, bytes], ...] = ((b"Content-Type", b"text/html"),),
             started_at: datetime = T0, truncated: str | None = None) -> Hop:
    """A hop as the fetcher would produce it, its body in a file under tmp_path."""
    body_path = tmp_path / f"body-{hashlib.md5(url.encode() + started_at.isoformat().encode()).hexdigest()}"
    body_path.write_bytes(body)
    reasons = {200: "OK", 301: "Moved Permanently", 302: "Found", 404: "Not Found"}
    host = url.split("/")[2].encode()
    return Hop(url=url, method="GET",
               request_headers=((b"Host", host), (b"User-Agent", b"archiver/test"),
                                (b"Accept-Encoding", b"gzip")),
               http_version="HTTP/1.1", status=status, reason=reasons.get(status, ""),
               response_headers=headers + ((b"Content-Length", str(len(body)).encode()),),
               started_at=started_at, ip="203.0.113.7", body_path=body_path,
               body_length=len(body), payload_digest=sha1(body), truncated=truncated)


def redirect_chain(tmp_path: Path, started_at: datetime = T0) -> FetchResult:
    """http://a.example/start -301-> https://a.example/next -302-> https://a.example/final (200)."""
    hops = [
        make_hop(tmp_path, "http://a.example/start", b"", status=301, started_at=started_at,
                 headers=((b"Location", b"https://a.example/next"),)),
        make_hop(tmp_path, "https://a.example/next", b"moved", status=302,
                 started_at=started_at + timedelta(milliseconds=5),
                 headers=((b"Location", b"/final"), (b"Content-Type", b"text/plain"))),
        make_hop(tmp_path, "https://a.example/final", HTML,
                 started_at=started_at + timedelta(milliseconds=9)),
    ]
    return FetchResult(url=hops[0].url, hops=hops)


def gzip_page(tmp_path: Path, started_at: datetime = T0) -> FetchResult:
    body = gzip.compress(HTML, mtime=0)
    hop = make_hop(tmp_path, "https://news.example/story?id=7", body, started_at=started_at,
                   headers=((b"Content-Type", b"text/html; charset=utf-8"),
                            (b"Content-Encoding", b"gzip"), (b"Vary", b"Accept-Encoding")))
    return FetchResult(url=hop.url, hops=[hop])


def warcio_check(*paths: Path) -> None:
    proc = subprocess.run([BIN / "warcio", "check", "-v", *map(str, paths)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "digest pass" in proc.stdout


class Rec(NamedTuple):
    """One record as warcio's ArchiveIterator reads it back."""

    type: str
    headers: StatusAndHeaders
    http: StatusAndHeaders | None
    payload: bytes  # raw, content-encoding kept
    digests_ok: bool | None  # None: nothing checked (revisit)
    offset: int


def records(path: Path) -> list[Rec]:
    out = []
    with open(path, "rb") as f:
        it = ArchiveIterator(f, check_digests=True)
        for rec in it:
            payload = rec.raw_stream.read()
            out.append(Rec(rec.rec_type, rec.rec_headers, rec.http_headers, payload,
                           rec.digest_checker.passed, it.get_record_offset()))
    return out


# -- writing -----------------------------------------------------------------------
def test_round_trip_record_order_digests_and_links(tmp_path: Path) -> None:
    warcs = tmp_path / "warcs"
    with FixedWarcWriter(warcs) as writer:
        chain = writer.write(redirect_chain(tmp_path))
        page = writer.write(gzip_page(tmp_path, T0 + timedelta(seconds=1)))
    (path,) = writer.finished
    warcio_check(path)
    recs = records(path)
    assert [r.type for r in recs] == ["warcinfo"] + ["request", "response"] * 4
    assert all(r.digests_ok is True for r in recs)  # every block (and payload) digest verified
    info = recs[0].payload.decode()
    assert "software: archiver/test\r\n" in info and "format: WARC File Format 1.1" in info
    assert recs[0].headers["WARC-Filename"] == path.name
    hops = redirect_chain(tmp_path).hops + gzip_page(tmp_path).hops
    pairs = [recs[i:i + 2] for i in range(1, len(recs), 2)]
    for hop, (req, resp) in zip(hops, pairs, strict=True):
        assert req.headers["WARC-Concurrent-To"] == resp.headers["WARC-Record-ID"]
        assert req.headers["WARC-Target-URI"] == resp.headers["WARC-Target-URI"] == hop.url
        assert resp.headers["WARC-IP-Address"] == "203.0.113.7"
        assert resp.headers["WARC-Payload-Digest"] == hop.payload_digest
        assert resp.headers["WARC-Warcinfo-ID"] == recs[0].headers["WARC-Record-ID"]
        assert req.http is not None and resp.http is not None
        assert resp.http.get_statuscode() == str(hop.status)
        assert req.http.protocol == "GET" and req.http["Host"] == hop.url.split("/")[2]
        assert hop.body_path is not None and resp.payload == hop.body_path.read_bytes()
    assert pairs[0][1].headers["WARC-Date"] == "2026-11-28T03:45:01.123456Z"
    assert pairs[2][0].http is not None and pairs[2][0].http.statusline.startswith("/final ")
    locations = chain + page
    assert [loc.record_type for loc in locations] == ["request", "response"] * 4
    assert [loc.hop for loc in chain] == [0, 0, 1, 1, 2, 2]
    assert [(loc.record_id, loc.url, loc.date, loc.offset) for loc in locations] == [
        (r.headers["WARC-Record-ID"], r.headers["WARC-Target-URI"], r.headers["WARC-Date"], r.offset)
        for r in recs[1:]]


def test_output_is_deterministic_and_matches_golden(tmp_path: Path) -> None:
    """Fixed uncompressed bytes; after a deliberate change, rerun with REGENERATE_GOLDEN=1."""
    outputs = []
    for run in ("one", "two"):
        with FixedWarcWriter(tmp_path / run) as writer:
            writer.write(FetchResult(url="x", hops=[make_hop(tmp_path, "http://g.example/", b"hi\n")]))
        outputs.append(gzip.decompress(writer.finished[0].read_bytes()))
    assert outputs[0] == outputs[1]
    golden = DATA / "golden-fetch.warc"
    if os.environ.get("REGENERATE_GOLDEN"):
        golden.write_bytes(outputs[0])
    assert outputs[0] == golden.read_bytes()


def test_each_record_is_its_own_gzip_member(tmp_path: Path) -> None:
    with FixedWarcWriter(tmp_path / "w") as writer:
        locations = writer.write(redirect_chain(tmp_path))
    data = writer.finished[0].read_bytes()
    for loc in locations:
        member = data[loc.offset:loc.offset + loc.length]
        assert gzip.decompress(member).startswith(b"WARC/1.1\r\n")
    assert locations[-1].offset + locations[-1].length == len(data)


def test_open_suffix_while_writing_and_read_back_either_way(tmp_path: Path) -> None:
    warcs = tmp_path / "warcs"
    writer = FixedWarcWriter(warcs)
    assert writer.path is None and list(warcs.iterdir()) == []  # no file before the first fetch
    (_, response) = writer.write(gzip_page(tmp_path))
    assert writer.path is not None and writer.path.name == response.warc + ".open"
    assert [p.name for p in warcs.iterdir()] == [response.warc + ".open"]
    headers, body = read_payload(warcs, response.warc, response.offset)
    assert body == gzip.compress(HTML, mtime=0)
    writer.close()
    writer.close()  # idempotent
    closed = sorted(p.name for p in warcs.iterdir() if p.name != cdxj.INDEX_NAME + ".lock")  # the index's lock
    assert closed == [response.warc, cdxj.INDEX_NAME]
    assert ("Content-Encoding", "gzip") in headers
    stored = read_record(warcs, response.warc, response.offset, response.length)
    assert stored.rec_type == "response" and stored.payload == body
    assert stored.rec_headers["WARC-Record-ID"] == response.record_id
    with pytest.raises(ValueError):
        read_record(warcs, "../" + response.warc, 0)


def test_transfer_encoding_is_not_claimed_for_a_dechunked_body(tmp_path: Path) -> None:
    hop = make_hop(tmp_path, "http://c.example/", b"de-chunked body",
                   headers=((b"Transfer-Encoding", b"chunked"), (b"Content-Type", b"text/plain")))
    with FixedWarcWriter(tmp_path / "w") as writer:
        (_, response) = writer.write(FetchResult(url=hop.url, hops=[hop]))
    warcio_check(writer.finished[0])
    headers, body = read_payload(tmp_path / "w", response.warc, response.offset)
    assert body == b"de-chunked body"
    assert not [v for k, v in headers if k.lower() == "transfer-encoding"]
    assert ("X-Archiver-Orig-Transfer-Encoding", "chunked") in headers


def test_truncated_body_is_marked(tmp_path: Path) -> None:
    hop = make_hop(tmp_path, "http://big.example/", b"x" * 1000, truncated="length")
    with FixedWarcWriter(tmp_path / "w") as writer:
        (_, response) = writer.write(FetchResult(url=hop.url, hops=[hop]))
    warcio_check(writer.finished[0])
    stored = read_record(tmp_path / "w", response.warc, response.offset)
    assert stored.rec_headers["WARC-Truncated"] == "length"
    assert stored.payload == b"x" * 1000


def test_large_body_is_streamed_with_correct_digests(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(warc, "SMALL_BODY", 1024)
    monkeypatch.setattr(warc, "CHUNK", 4096)
    body = os.urandom(50_000) + HTML * 10
    hop = make_hop(tmp_path, "http://stream.example/", body)
    with FixedWarcWriter(tmp_path / "w") as writer:
        (_, response) = writer.write(FetchResult(url=hop.url, hops=[hop]))
    warcio_check(writer.finished[0])
    assert read_payload(tmp_path / "w", response.warc, response.offset)[1] == body
    assert records(writer.finished[0])[2].headers["WARC-Payload-Digest"] == sha1(body)


def test_fetch_without_hops_writes_nothing(tmp_path: Path) -> None:
    with FixedWarcWriter(tmp_path / "w") as writer:
        assert writer.write(FetchResult(url="http://gone.example/", error="dns")) == []
    assert writer.finished == []


def test_failed_write_is_cut_back(tmp_path: Path) -> None:
    writer = FixedWarcWriter(tmp_path / "w")
    first = writer.write(gzip_page(tmp_path))
    broken = make_hop(tmp_path, "http://broken.example/")
    broken.body_path.unlink()  # type: ignore[union-attr]
    with pytest.raises(FileNotFoundError):
        writer.write(FetchResult(url=broken.url, hops=[broken]))
    second = writer.write(redirect_chain(tmp_path))
    writer.close()
    warcio_check(writer.finished[0])
    assert second[0].offset == first[-1].offset + first[-1].length
    assert len(records(writer.finished[0])) == 1 + len(first) + len(second)


def test_rotation_keeps_a_fetch_together_and_starts_each_file_with_warcinfo(tmp_path: Path) -> None:
    warcs = tmp_path / "warcs"
    with FixedWarcWriter(warcs, max_size=3000) as writer:
        fetches = [writer.write(FetchResult(url="x", hops=[
            make_hop(tmp_path, f"http://r.example/{i}", os.urandom(1500)),
            make_hop(tmp_path, f"http://r.example/{i}/b", os.urandom(1500))])) for i in range(4)]
    files = writer.finished
    assert len(files) == 4 and len({f.name for f in files}) == 4
    assert all(f.stat().st_size > 3000 for f in files)
    warcio_check(*files)
    for path, locations in zip(files, fetches, strict=True):
        assert {loc.warc for loc in locations} == {path.name}
        recs = records(path)
        assert recs[0].type == "warcinfo" and recs[0].headers["WARC-Filename"] == path.name
        assert len(recs) == 5
    assert [f.name.split("-")[2] for f in files] == ["00001", "00002", "00003", "00004"]
    assert not list(warcs.glob("*.open"))


def test_revisit_record(tmp_path: Path) -> None:
    with FixedWarcWriter(tmp_path / "w") as writer:
        original = writer.write(gzip_page(tmp_path))[1]
        later = gzip_page(tmp_path, T0 + timedelta(days=7))
        of = RevisitOf(original.record_id, original.url, original.date)
        request, revisit = writer.write(later, revisit_of=of)
    warcio_check(writer.finished[0])
    assert (request.record_type, revisit.record_type) == ("request", "revisit")
    stored = read_record(tmp_path / "w", revisit.warc, revisit.offset, revisit.length)
    h = stored.rec_headers
    assert h["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
    assert h["WARC-Refers-To"] == original.record_id
    assert h["WARC-Refers-To-Target-URI"] == original.url
    assert h["WARC-Refers-To-Date"] == original.date == "2026-11-28T03:45:01.123456Z"
    assert h["WARC-Payload-Digest"] == later.hops[0].payload_digest
    assert stored.payload == b"" and stored.http_headers is not None
    assert int(h["Content-Length"]) == len(stored.http_headers.to_bytes())


# -- crash repair -------------------------------------------------------------------
def test_repair_cuts_back_to_last_complete_record(tmp_path: Path) -> None:
    warcs = tmp_path / "warcs"
    writer = FixedWarcWriter(warcs)
    locations = writer.write(redirect_chain(tmp_path)) + writer.write(gzip_page(tmp_path))
    crashed = writer.path
    assert crashed is not None
    good_size = crashed.stat().st_size
    member = crashed.read_bytes()[locations[-1].offset:]
    with open(crashed, "ab") as f:  # a kill in the middle of the next record
        f.write(member[: len(member) // 2])
    writer._file = None  # the process "died": no close()
    (warcs / "ARCHIVER-20261128000000000-00009-deadbeef.warc.gz.open").write_bytes(b"")
    (warcs / "ARCHIVER-20261128000000000-00010-deadbeef.warc.gz.open").write_bytes(b"\x1f\x8b\x08junk")
    unclosed = FixedWarcWriter(warcs, prefix="OTHER")
    other = unclosed.write(gzip_page(tmp_path))
    unclosed._file = None

    repaired = repair(warcs)

    final = crashed.with_name(crashed.name.removesuffix(".open"))
    assert sorted(repaired) == sorted([final, warcs / (other[0].warc)])
    assert not list(warcs.glob("*.open"))
    assert final.stat().st_size == good_size
    warcio_check(*repaired)
    for loc in locations + other:
        stored = read_record(warcs, loc.warc, loc.offset, loc.length)
        assert stored.rec_headers["WARC-Record-ID"] == loc.record_id
    assert repair(warcs) == []


KILLED_WRITER = textwrap.dedent("""
    import dataclasses, itertools, json, os, signal, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from archiver.capture import warc
    from archiver.models import FetchResult, Hop
    warc.SMALL_BODY, warc.CHUNK = 0, 8192  # stream the body in small pieces, read twice
    passes, original = itertools.count(1), warc._Body.chunks
    def chunks(body):  # SIGKILL in the middle of writing the 4th fetch's body
        dying = body.path is not None and next(passes) == 8
        for n, chunk in enumerate(original(body)):
            if dying and n == 100:
                os.kill(os.getpid(), signal.SIGKILL)
            yield chunk
    warc._Body.chunks = chunks
    body = Path(sys.argv[1]) / "body"
    body.write_bytes(os.urandom(3_000_000))
    hop = Hop(url="http://kill.example/", method="GET", request_headers=(), http_version="HTTP/1.1",
              status=200, reason="OK", response_headers=(), started_at=datetime.now(UTC),
              body_path=body, body_length=3_000_000)
    writer = warc.WarcWriter(Path(sys.argv[1]) / "warcs", max_size=10**12)
    for _ in range(5):
        for loc in writer.write(FetchResult(url=hop.url, hops=[hop])):
            print(json.dumps(dataclasses.asdict(loc)), flush=True)
""")


def test_sigkill_while_writing_then_repair(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], timeout=60,
                          capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    written = [RecordLocation(**json.loads(line)) for line in proc.stdout.splitlines()]
    assert len(written) == 6
    (crashed,) = (tmp_path / "warcs").glob("*.open")
    end = written[-1].offset + written[-1].length
    assert crashed.stat().st_size > end + 100_000  # half a record was on disk

    (path,) = repair(tmp_path / "warcs")

    warcio_check(path)
    # kept: every complete record, including the request of the fetch that died
    assert [r.type for r in records(path)] == ["warcinfo"] + ["request", "response"] * 3 + ["request"]
    assert end < path.stat().st_size < end + 1000
    for loc in written:  # everything reported as written is still there
        assert read_record(tmp_path / "warcs", loc.warc, loc.offset, loc.length).rec_type == loc.record_type


def cdxj_cli(*paths: Path) -> list[str]:
    """What the cdxj-indexer command writes for these files (sorted)."""
    cli = subprocess.run([BIN / "cdxj-indexer", "-s", *paths], capture_output=True, text=True, check=True,
                         cwd=paths[0].parent)
    return cli.stdout.splitlines()


def mixed_fetches(tmp_path: Path) -> list[tuple[FetchResult, bool]]:
    """(fetch, write as a revisit of the previous response): every kind of line an index holds."""
    t = T0 + timedelta(hours=2)
    pdf = make_hop(tmp_path, "https://Docs.Example:8443/A%20Paper.pdf?v=2&a=1", b"%PDF-1.7 ...",
                   headers=((b"Content-Type", b"application/pdf"),), started_at=t)
    bare = make_hop(tmp_path, "http://www.example.org/no-type", b"?", headers=(), started_at=t)
    odd = make_hop(tmp_path, "http://xn--bcher-kva.example/caf\u00e9", b"{}", status=404, started_at=t,
                   headers=((b"content-type", b"  Application/JSON ;charset=UTF-8"),))
    cut = make_hop(tmp_path, "https://big.example/video", b"x" * 5000, truncated="length", started_at=t,
                   headers=((b"Content-Type", b"video/mp4"),))
    return [(redirect_chain(tmp_path), False), (gzip_page(tmp_path), False),
            (gzip_page(tmp_path, T0 + timedelta(days=7)), True),
            *((FetchResult(url=h.url, hops=[h]), False) for h in (pdf, bare, odd, cut))]


def write_mixed(writer: WarcWriter, tmp_path: Path, *, sync: bool = True) -> list[RecordLocation]:
    written: list[RecordLocation] = []
    for result, revisit in mixed_fetches(tmp_path):
        of = None
        if revisit:
            last = written[-1]
            of = RevisitOf(last.record_id, last.url, last.date)
        written += writer.write(result, revisit_of=of, sync=sync)
    return written


# -- bodies packed ahead of writing (warc.pack) -----------------------------------------------


def write_mixed_packed(writer: WarcWriter, tmp_path: Path) -> list[RecordLocation]:
    written: list[RecordLocation] = []
    for result, revisit in mixed_fetches(tmp_path):
        of = RevisitOf(written[-1].record_id, written[-1].url, written[-1].date) if revisit else None
        written += writer.write(warc.pack(result), revisit_of=of)
    return written


def test_packed_bodies_make_the_same_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies compressed ahead (in parallel) give byte-for-byte the records of bodies
    compressed while writing, each record still its own valid gzip member."""
    monkeypatch.setattr(warc, "PACK_LIMIT", 100_000)
    random_body = make_hop(tmp_path, "http://noise.example/", os.urandom(70_000))  # incompressible
    empty = make_hop(tmp_path, "http://empty.example/", b"")
    big = make_hop(tmp_path, "http://big.example/", HTML * 20)  # over PACK_LIMIT: compressed while writing
    extra = [FetchResult(url=h.url, hops=[h]) for h in (random_body, empty, big)]
    with FixedWarcWriter(tmp_path / "plain") as plain:
        expected = write_mixed(plain, tmp_path) + [loc for r in extra for loc in plain.write(r)]
    with FixedWarcWriter(tmp_path / "packed") as packed:
        got = write_mixed_packed(packed, tmp_path) + [loc for r in extra for loc in packed.write(warc.pack(r))]
    assert [hop.packed is not None for r in extra for hop in warc.pack(r).hops] == [True, True, False]
    plain_bytes, packed_bytes = (w.finished[0].read_bytes() for w in (plain, packed))
    assert gzip.decompress(packed_bytes) == gzip.decompress(plain_bytes)
    assert [(loc.record_id, loc.record_type) for loc in got] == [(loc.record_id, loc.record_type) for loc in expected]
    for loc in got:
        member = packed_bytes[loc.offset:loc.offset + loc.length]
        assert gzip.decompress(member).startswith(b"WARC/1.1\r\n")
    assert got[-1].offset + got[-1].length == len(packed_bytes)
    warcio_check(packed.finished[0])
    assert [r.headers["WARC-Payload-Digest"] for r in records(packed.finished[0]) if r.type == "response"] == [
        r.headers["WARC-Payload-Digest"] for r in records(plain.finished[0]) if r.type == "response"]
    index = (tmp_path / "packed" / cdxj.INDEX_NAME).read_text().splitlines()
    assert index == cdxj_cli(packed.finished[0])


@pytest.mark.parametrize("sizes", [(0, 0), (1, 0), (0, 1), (7, 70_000), (65_536, 65_537), (10, 200_000)])
def test_crc32_combine(sizes: tuple[int, int]) -> None:
    first, second = os.urandom(sizes[0]), os.urandom(sizes[1])
    combined = warc._crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second))
    assert combined == zlib.crc32(first + second)


# -- CDXJ index and pywb -----------------------------------------------------------
def test_cdxj_lines_built_while_writing_equal_cdxj_indexer(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    warcs = tmp_path / "warcs"

    def no_reread(path: Path) -> list[str]:
        raise AssertionError(f"{path} was read again to index it")

    def no_parse(*args: object, **kwargs: object) -> str | None:
        raise AssertionError("a record was parsed again to index it")

    with monkeypatch.context() as patch:
        patch.setattr(cdxj, "index_file", no_reread)
        patch.setattr(cdxj, "record_line", no_parse)  # every line built from the values written
        with FixedWarcWriter(warcs, max_size=2500) as writer:  # rotates: several files, one merge each
            written = write_mixed(writer, tmp_path)
        assert cdxj.update_index(warcs) == []  # nothing left for cdxj-indexer
    files = writer.finished
    assert len(files) >= 3
    index = (warcs / cdxj.INDEX_NAME).read_text().splitlines()
    assert index == cdxj_cli(*files)  # byte-identical, sorted
    entries = [json.loads(line.split(" ", 2)[2]) for line in index]
    assert len(entries) == sum(loc.record_type in ("response", "revisit") for loc in written)
    by_url = {(e["url"], e["mime"] if "mime" in e else None): e for e in entries}
    assert by_url["http://a.example/start", None]["status"] == "301"
    assert by_url["https://a.example/next", "text/plain"]["status"] == "302"
    assert by_url["https://news.example/story?id=7", "warc/revisit"]["status"] == "200"
    assert by_url["https://Docs.Example:8443/A%20Paper.pdf?v=2&a=1", "application/pdf"]
    assert by_url["http://www.example.org/no-type", None]
    assert by_url["https://big.example/video", "video/mp4"]["digest"].startswith("sha1:")
    assert {e["filename"] for e in entries} == {f.name for f in files}


def odd_fetches(tmp_path: Path) -> tuple[list[FetchResult], set[str]]:
    """URL and HTTP-head shapes the direct CDXJ path could get wrong; the URLs it leaves to record_line."""
    t = T0 + timedelta(hours=3)
    html = ((b"Content-Type", b"text/html"),)
    direct = [
        ("https://example.com/%7Euser/a%2fb%25c/%E2%82%AC/caf\u00e9?x=%41&y=a%20b&z=%zz", html),
        ("https://example.com/page?q=1#section-2", html),
        ("https://example.com/#", html),
        ("http://[2001:db8::1]:8080/v6/Path?q=1", html),
        ("http://[::ffff:192.0.2.1]/", html),
        ("http://192.0.2.1:80/ip", html),
        ("https://long.example/" + "segment/" * 700 + "?q=" + "x" * 3000, html),
        ("http://WWW.Example.COM:80/Default.aspx?B=2&a=1&a=0&sessionid=0123456789abcdef0123456789abcdef", html),
        ("https://www2.example.com:443/a/../b/./c//d", html),
        ("https://example.com/a b/c d?e f", html),  # spaces: warcio writes them back as %20
        ("https://user:pw@example.com/login", html),
        ("https://example.com", html),
        ("https://example.com/?", html),
        ("http://b\u00fccher.example/\u00fcber?\u00e4=\u00f6", html),
        ("https://EXAMPLE.net./trailing-dot", html),
        ("https://example.com/dup-type", ((b"Content-Type", b"image/png"), (b"content-type", b"text/html"))),
        ("https://example.com/blank-before-colon", ((b"Content-Type \t", b" TEXT/HTML ; q=1"),)),
        ("https://example.com/latin1-type", ((b"Content-Type", b"text/h\xe9ml;x"),)),
        ("https://example.com/utf8-type", ((b"Content-Type", "t\u00ebxt/pl\u00e0in".encode()),)),
        ("https://example.com/empty-type", ((b"Content-Type", b""),)),
        ("https://example.com/blank-type", ((b"Content-Type", b" \t "),)),
        ("https://example.com/colon-name", ((b"X:Content-Type", b"a/b"), (b"Content-Type", b"text/html"))),
        ("https://example.com/x-content-type", ((b"X-Content-Type", b"a/b"), (b"Content-Type-X", b"c/d"))),
    ]
    fallback = [
        ("HTTP://UPPER.example/x", html),  # warcio reads HTTP heads of http:/https: targets only
        ("ftp://files.example/pub/readme", html),
        ("<https://angle.example/x>", html),  # warcio drops the brackets
        ("https://example.com/folded", ((b"X-Folded", b"a\r\n\tb"), (b"Content-Type", b"text/html"))),
        ("https://example.com/lf-value", ((b"X-Odd", b"a\nContent-Type: evil/x"), (b"Content-Type", b"a/b"))),
    ]
    fetches = []
    for i, (url, headers) in enumerate(direct + fallback):
        status = (200, 599, 204, 404)[i % 4]
        hop = make_hop(tmp_path, url, b"" if status == 204 else b"body %d" % i, status=status,
                       headers=headers, started_at=t + timedelta(seconds=i))
        fetches.append(FetchResult(url=url, hops=[hop]))
    return fetches, {url for url, _ in fallback}


def test_held_files_keep_their_index_lines_on_disk_until_closed(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A check run holds every file that rotates away until its end: their CDXJ lines wait in an
    unnamed spill file, not in memory (they would grow with the number of checks), and reach
    ``index.cdxj`` exactly as cdxj-indexer writes them when the files are closed."""
    warcs = tmp_path / "warcs"
    monkeypatch.setattr(cdxj, "index_file", lambda path: pytest.fail(f"{path} was read again to index it"))
    writer = FixedWarcWriter(warcs, max_size=2500)
    writer.hold_rotated = True
    written = write_mixed(writer, tmp_path)
    writer._retire()
    held = writer.take_retired()
    assert len(held) >= 3 and all(isinstance(item.lines, warc.SpilledLines) for item in held)
    assert sorted(p.name for p in warcs.iterdir()) == sorted(item.name + warc.OPEN_SUFFIX for item in held)
    writer.close_retired(held)
    writer.close()
    assert writer._spill is None
    index = (warcs / cdxj.INDEX_NAME).read_text().splitlines()
    assert index == cdxj_cli(*writer.finished)
    assert len(index) == sum(loc.record_type in ("response", "revisit") for loc in written)


def test_cdxj_lines_of_odd_urls_and_heads_equal_cdxj_indexer(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    warcs = tmp_path / "warcs"
    fetches, fallback = odd_fetches(tmp_path)
    parsed: list[bytes] = []
    record_line = cdxj.record_line

    def counting(head: bytes, **kwargs: object) -> str | None:
        parsed.append(head)
        return record_line(head, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cdxj, "record_line", counting)
    with FixedWarcWriter(warcs, max_size=20_000) as writer:
        for fetch in fetches:
            writer.write(fetch)
        last = writer.write(fetches[0])[-1]  # and a revisit of a percent-encoded URL
        writer.write(fetches[0], revisit_of=RevisitOf(last.record_id, last.url, last.date))
    assert cdxj.update_index(warcs) == []
    index = (warcs / cdxj.INDEX_NAME).read_text().splitlines()
    assert index == cdxj_cli(*writer.finished)
    assert len(index) == len(fetches) + 2
    targets = {written_target(head) for head in parsed}
    assert targets == fallback  # only the shapes left to warcio were parsed again


def written_target(head: bytes) -> str:
    """The WARC-Target-URI written into a record head."""
    line = next(line for line in head.split(b"\r\n") if line.startswith(b"WARC-Target-URI: "))
    return line.split(b": ", 1)[1].decode()


def test_cdxj_update_index_falls_back_to_cdxj_indexer(tmp_path: Path) -> None:
    warcs = tmp_path / "warcs"
    with FixedWarcWriter(warcs) as writer:
        writer.write(redirect_chain(tmp_path))
    lines = cdxj_cli(writer.finished[0])
    urls = [json.loads(line.split(" ", 2)[2])["url"] for line in lines]
    assert sorted(urls) == ["http://a.example/start", "https://a.example/final", "https://a.example/next"]
    assert (warcs / cdxj.INDEX_NAME).read_text().splitlines() == lines
    assert cdxj.update_index(warcs) == []

    unindexed = FixedWarcWriter(warcs, prefix="SECOND", index=False)
    unindexed.write(gzip_page(tmp_path))
    unindexed.close()
    crashed = FixedWarcWriter(warcs, prefix="THIRD")
    crashed.write(mixed_fetches(tmp_path)[3][0])
    crashed._file = None  # killed: its lines are lost with it
    assert cdxj.update_index(warcs) == unindexed.finished  # .open: not indexed yet
    repaired = repair(warcs)
    assert cdxj.update_index(warcs) == repaired
    assert cdxj.update_index(warcs) == []
    index = (warcs / cdxj.INDEX_NAME).read_text().splitlines()
    assert index == sorted(lines + cdxj.index_file(unindexed.finished[0]) + cdxj.index_file(repaired[0]))
    assert len(index) == 5


def test_cdxj_lines_of_a_failed_write_are_dropped(tmp_path: Path) -> None:
    warcs = tmp_path / "warcs"
    writer = FixedWarcWriter(warcs)
    writer.write(gzip_page(tmp_path))
    chain = redirect_chain(tmp_path)
    chain.hops[-1].body_path.unlink()  # type: ignore[union-attr]  # fails after two hops
    with pytest.raises(FileNotFoundError):
        writer.write(chain)
    writer.close()
    expected = cdxj_cli(writer.finished[0])
    assert (warcs / cdxj.INDEX_NAME).read_text().splitlines() == expected and len(expected) == 1


# -- group commit ------------------------------------------------------------------
def test_group_commit_syncs_once_per_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warcs = tmp_path / "warcs"
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    writer = FixedWarcWriter(warcs)
    writer.sync()  # no file: no-op
    writer.write(gzip_page(tmp_path))  # sync=True: warcinfo + dir at open, then the write
    assert len(synced) == 3
    synced.clear()
    written = write_mixed(writer, tmp_path, sync=False)
    assert synced == []
    assert writer.path is not None
    assert writer.path.stat().st_size == written[-1].offset + written[-1].length  # flushed
    writer.sync()
    assert len(synced) == 1
    writer.sync()  # nothing pending
    assert len(synced) == 1
    writer.close()
    warcio_check(*writer.finished)


def test_unsynced_records_are_fsynced_when_the_file_rotates(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    warcs = tmp_path / "warcs"
    synced: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                 real_fsync(fd))[1])
    writer = FixedWarcWriter(warcs, max_size=3000)
    first = writer.write(FetchResult(url="x", hops=[make_hop(tmp_path, "http://r.example/1", os.urandom(4000))]),
                         sync=False)
    old = str(writer.path)
    synced.clear()
    second = writer.write(FetchResult(url="x", hops=[make_hop(tmp_path, "http://r.example/2")]), sync=False)
    assert writer.finished[0].name == first[0].warc != second[0].warc
    # the rotated file was fsynced before the new one was written to
    assert synced[0] == old and synced.index(str(writer.path)) > 0
    writer.sync()
    writer.close()
    warcio_check(*writer.finished)


def test_failed_unsynced_write_keeps_the_earlier_batch(tmp_path: Path) -> None:
    writer = FixedWarcWriter(tmp_path / "w")
    first = writer.write(gzip_page(tmp_path), sync=False)
    broken = make_hop(tmp_path, "http://broken.example/")
    broken.body_path.unlink()  # type: ignore[union-attr]
    with pytest.raises(FileNotFoundError):
        writer.write(FetchResult(url=broken.url, hops=[broken]), sync=False)
    second = writer.write(redirect_chain(tmp_path), sync=False)
    writer.sync()
    writer.close()
    warcio_check(writer.finished[0])
    assert second[0].offset == first[-1].offset + first[-1].length
    for loc in first + second:
        assert read_record(tmp_path / "w", loc.warc, loc.offset, loc.length).rec_headers[
            "WARC-Record-ID"] == loc.record_id


def test_pywb_config_points_at_the_warcs(tmp_path: Path) -> None:
    config = yaml.safe_load(cdxj.pywb_config(tmp_path / "warcs").read_text())
    coll = config["collections"]["archive"]
    assert coll["index"] == str((tmp_path / "warcs" / "index.cdxj").resolve())
    assert coll["archive_paths"] == str((tmp_path / "warcs").resolve()) + "/"


@pytest.fixture(scope="module")
def replay_world(pywb: PywbReplay, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """One archive with a gzip page, a redirect chain and a revisit, served by pywb."""
    tmp = tmp_path_factory.mktemp("replay")
    warcs = tmp / "warcs"
    with WarcWriter(warcs, max_size=10**9) as writer:
        page = writer.write(gzip_page(tmp))
        chain = writer.write(redirect_chain(tmp, T0 + timedelta(hours=1)))
        of = RevisitOf(page[1].record_id, page[1].url, page[1].date)
        writer.write(gzip_page(tmp, T0 + timedelta(days=7)), revisit_of=of)
    cdxj.update_index(warcs)
    return pywb.add(warcs), {"page": page, "chain": chain}


def test_pywb_replays_gzip_body_byte_identical(pywb: PywbReplay, replay_world: tuple) -> None:
    coll, _ = replay_world
    got = pywb.replay(coll, "https://news.example/story?id=7", "20261128034501")
    assert got.status == 200
    assert got.header("Content-Encoding") == "gzip"
    assert got.body == gzip.compress(HTML, mtime=0)
    assert got.header("Memento-Datetime") == "Sat, 28 Nov 2026 03:45:01 GMT"


def test_pywb_replays_each_hop_of_a_redirect_chain(pywb: PywbReplay, replay_world: tuple) -> None:
    coll, _ = replay_world
    ts = "20261128044501"
    start = pywb.replay(coll, "http://a.example/start", ts)
    assert start.status == 301 and (start.header("Location") or "").endswith("https://a.example/next")
    nxt = pywb.replay(coll, "https://a.example/next", ts)
    assert nxt.status == 302 and nxt.body == b"moved"
    final = pywb.replay(coll, "https://a.example/final", ts)
    assert final.status == 200 and final.body == HTML


def test_pywb_resolves_revisit_to_the_original_payload(pywb: PywbReplay, replay_world: tuple) -> None:
    coll, _ = replay_world
    got = pywb.replay(coll, "https://news.example/story?id=7", "20261205034501")
    assert got.status == 200
    assert got.header("Memento-Datetime") == "Sat, 05 Dec 2026 03:45:01 GMT"  # the revisit ...
    assert got.body == gzip.compress(HTML, mtime=0)  # ... served with the original bytes
