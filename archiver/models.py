"""Values that travel between the pipeline stages.

Nothing here does I/O. The stages exchange these objects:

    collect  -> RawLink, CollectProblem
    fetch    -> FetchResult (made of Hop)
    warc     -> RecordLocation
    check    -> CheckResult
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


class State(str, enum.Enum):
    """The conclusion so far about a link (SPEC §5)."""

    PENDING = "pending"
    OK = "ok"
    CHANGED = "changed"
    MOVED = "moved"
    FAILING = "failing"
    DEAD = "dead"
    BLOCKED = "blocked"
    EXCLUDED = "excluded"

    def __str__(self) -> str:
        return self.value


class Verdict(str, enum.Enum):
    """What one check observed this time."""

    OK = "ok"  # reachable, matches the cited copy
    CHANGED = "changed"  # reachable, main text drifted
    MOVED = "moved"  # permanent redirect to matching content
    FAILED = "failed"  # evidence of rot (404, dns, soft-404, ...)
    BLOCKED = "blocked"  # the server refuses us
    EXCLUDED = "excluded"  # not fetched by rule

    def __str__(self) -> str:
        return self.value


# Reasons a fetch can fail before or without a usable HTTP answer.
# The failure reasons are the vocabulary of SPEC §5.
FETCH_FAILURE_REASONS = frozenset(
    {"dns", "refused", "timeout", "tls", "connection", "too-many-redirects", "invalid-url"}
)
EXCLUSION_REASONS = frozenset({"robots", "pattern", "scheme", "private-network"})


@dataclass(frozen=True)
class Hop:
    """One HTTP exchange of a fetch; a redirect chain has several.

    Headers are kept raw, as sent and as received, except that a
    ``Transfer-Encoding`` the body no longer carries is dropped by the fetcher
    (the stored body is de-chunked but keeps its ``Content-Encoding``).
    """

    url: str
    method: str
    request_headers: tuple[tuple[bytes, bytes], ...]
    http_version: str  # "HTTP/1.1"
    status: int
    reason: str
    response_headers: tuple[tuple[bytes, bytes], ...]
    started_at: datetime  # UTC, when the request was sent
    ip: str | None = None  # the peer address the bytes came from
    body_path: Path | None = None  # temp file with the entity body, content-encoding kept
    body_length: int = 0
    payload_digest: str = ""  # "sha1:BASE32" of the bytes in body_path
    truncated: str | None = None  # WARC-Truncated reason: "length", "time", "disconnect"
    packed: PackedBody | None = None  # the response block's body, compressed ahead (warc.pack)

    def header(self, name: str) -> str | None:
        """First response header named ``name`` (case-insensitive), decoded."""
        wanted = name.lower().encode("latin-1")
        for key, value in self.response_headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and self.header("location") is not None


@dataclass(frozen=True)
class PackedBody:
    """A hop's body compressed ahead of writing, by the process that fetched it.

    ``deflate`` is a finished raw DEFLATE stream of the body followed by the
    record's closing ``CRLF CRLF``; the WARC writer puts its own compressed
    header in front of it to make the record's gzip member (``warc.pack``).
    """

    deflate: bytes
    crc: int  # CRC-32 of the bytes ``deflate`` holds
    size: int  # body bytes (without the closing CRLF CRLF)
    level: int  # the zlib level it was compressed at
    fields: tuple[tuple[str, str], ...]  # the response record's digest (and WARC-Truncated) fields


@dataclass
class FetchResult:
    """Everything one fetch of one URL produced.

    ``hops`` holds every HTTP response received, in order: the last one is the
    final answer. ``error`` is set when the fetch could not finish (a reason of
    SPEC §5 such as ``dns`` or ``timeout``, or an exclusion such as
    ``private-network``); hops received before the failure are still kept.
    """

    url: str
    hops: list[Hop] = field(default_factory=list)
    error: str | None = None
    detail: str = ""  # human-readable explanation of ``error``
    attempts: int = 1  # tries made (retries of transient failures); this is the last one

    @property
    def final(self) -> Hop | None:
        return self.hops[-1] if self.hops else None

    @property
    def final_url(self) -> str:
        return self.hops[-1].url if self.hops else self.url

    @property
    def status(self) -> int | None:
        return self.hops[-1].status if self.hops else None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.hops)

    def cleanup(self) -> None:
        """Delete the temporary body files."""
        for hop in self.hops:
            if hop.body_path is not None:
                hop.body_path.unlink(missing_ok=True)


@dataclass(frozen=True)
class RecordLocation:
    """Where one WARC record landed; enough to read it back directly."""

    warc: str  # file name relative to the warcs/ directory, without ".open"
    offset: int
    length: int  # compressed length of the gzip member
    record_type: str  # "request", "response", "revisit", "warcinfo"
    record_id: str  # "<urn:uuid:...>"
    url: str
    date: str  # WARC-Date as written
    hop: int  # index into FetchResult.hops


@dataclass(frozen=True)
class RevisitOf:
    """The earlier capture an identical payload refers to."""

    record_id: str
    target_uri: str
    date: str  # WARC-Date of the original response record
