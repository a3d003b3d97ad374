"""A real PostgreSQL server for the tests (SPEC §11): ``initdb`` in a temporary directory, started
on a free port on 127.0.0.1 for the session; each test asking for ``pg_url`` gets a database of its own.

As root, the server runs as the ``postgres`` user (Debian's package creates it) or, without one, as
an ``archiver-pg`` user created for it. Tests skip, saying why, only where no PostgreSQL binaries
are found (``/usr/lib/postgresql/*/bin``; ``setup.sh`` installs Debian's ``postgresql``).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_user() -> list[str]:
    """The command prefix that runs PostgreSQL as an unprivileged user (it refuses to run as root)."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "archiver-pg"):
        try:
            pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"]
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "archiver-pg"], check=True)
    return ["runuser", "-u", "archiver-pg", "--"]


class PgServer:
    def __init__(self, bin_dir: Path, settings: tuple[str, ...] = ()) -> None:
        self.bin = bin_dir
        self.settings = settings  # more "name=value" server settings (scripts/bench_workers.py logs statements)
        self.dir = Path(tempfile.mkdtemp(prefix="archiver-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.prefix = _as_user()
        if self.prefix:
            shutil.chown(self.dir, user=self.prefix[2])
            os.chmod(self.dir, 0o755)
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)

    def start(self) -> None:
        subprocess.run([*self.prefix, str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                        "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "-N"],
                       check=True, capture_output=True)
        self._process = subprocess.Popen(
            [*self.prefix, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-h", "127.0.0.1", "-k", str(self.dir), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200",
             *(arg for setting in self.settings for arg in ("-c", setting))],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "server.log", "wb"),  # noqa: SIM115
        )
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError("PostgreSQL did not start: "
                                       + (self.dir / "server.log").read_text(errors="replace")[-2000:]) from None
                time.sleep(0.1)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"archive_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL's binaries are not installed (/usr/lib/postgresql/*/bin; setup.sh installs "
                    "Debian's postgresql package)")
    server = PgServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A new, empty PostgreSQL database's URL."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    """``[archive] database`` for each backend: "" (SQLite in the archive directory) and a new PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    return str(request.getfixturevalue("pg_url"))
