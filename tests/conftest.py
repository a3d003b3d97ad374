"""Shared fixtures: real local HTTP servers and a test configuration."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests judge behaviour, not speed: on a shared 2-core machine a timing deadline only adds flakes.
settings.register_profile("archiver", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("archiver")

from archiver.config import ArchiveConfig, Config, ExternalConfig, FetchConfig

from .pywb_replay import pywb  # noqa: F401  (the session's pywb server, a fixture)
from .postgres import database, pg_server, pg_url  # noqa: F401  (PostgreSQL for the store, fixtures)
from .server import TestServer

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "corpus"  # real saved pages and feeds (see its README.md)
SAMPLE_ARTICLE = Path(__file__).resolve().parents[1] / "examples" / "article-with-comments.txt"

_loopback = itertools.count(2)


@pytest.fixture(scope="session")
def server() -> Iterator[TestServer]:
    """One server on 127.0.0.1 for the session; tests register unique paths."""
    srv = TestServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server() -> Iterator[object]:
    """Factory for extra servers, each on its own loopback address (127.0.0.N): distinct hosts."""
    started: list[TestServer] = []

    def make() -> TestServer:
        n = next(_loopback)
        srv = TestServer(host=f"127.0.{n // 250}.{n % 250 + 2}").start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A configuration for tests: archive in tmp_path, loopback allowed, short timeouts."""
    return Config(
        archive=ArchiveConfig(dir=tmp_path / "archives", warc_max_size=1_000_000_000),
        fetch=replace(
            FetchConfig(),
            allow_private_networks=True,
            per_host_delay=0.0,
            connect_timeout=2.0,
            read_timeout=2.0,
            total_timeout=5.0,
            retries=0,
        ),
        # no test asks the public web archives (tests have no internet): a test that wants
        # Memento lookups configures a local archive (tests/test_export_memento.py)
        external=ExternalConfig(archives=(), lookup=False, submit=False),
    )


@pytest.fixture(autouse=True)
def _no_public_archives(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that would ask a public web archive (a config file without ``[external]`` has
    the Internet Archive and archive.today as defaults; tests have no internet). A test that wants
    Memento lookups serves its archive on 127.0.0.1."""
    from urllib.parse import urlsplit

    from archiver.export import memento

    real = memento.ask_archive

    async def loopback_only(fetcher, prefix, url, when):  # type: ignore[no-untyped-def]
        host = urlsplit(prefix).hostname or ""
        assert host.startswith("127.") or host == "localhost", f"a test asked the public archive {prefix} about {url}"
        return await real(fetcher, prefix, url, when)

    monkeypatch.setattr(memento, "ask_archive", loopback_only)
