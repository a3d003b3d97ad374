"""Replay archived URLs through a real pywb, for tests.

pywb's app modules monkeypatch the whole process with gevent when imported, so
pywb runs in a subprocess: a ``FrontEndApp`` served by gevent on a free
``127.0.0.1`` port, with auto-collections under a temporary root. Each warcs
directory a test registers becomes a collection whose ``archive`` and
``indexes`` entries are symlinks to that directory (the layout documented in
``archiver.capture.cdxj``), indexed by ``archiver.capture.cdxj.update_index`` (``add`` runs it;
run it again after writing more files: pywb reads the index on every request).

Use it from a test module (or import the fixture once in conftest.py); however
many modules import the fixture, the process starts one server, stopped at exit::

    from tests.pywb_replay import PywbReplay, pywb  # noqa: F401  (the fixture)

    def test_replay(pywb: PywbReplay, tmp_path):
        ...                                        # write, then close the WarcWriter
        coll = pywb.add(warcs_dir)                 # updates its index.cdxj too
        got = pywb.replay(coll, "http://example.com/", "20261128034501")
        assert got.status == 200 and got.body == original_bytes

Outside pytest, ``shared_pywb()`` gives the same server.

``replay`` uses the ``id_`` mode: the stored status, headers and body bytes,
unrewritten; redirects are not followed. pywb keeps a stored ``Content-Encoding``
only when the client accepts it (otherwise it decodes the body), so requests
send ``Accept-Encoding: gzip, deflate, br`` and the body comes back as stored.
"""

from __future__ import annotations

import atexit
import http.client
import itertools
import os
import select
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from archiver.capture.cdxj import update_index

SERVER = r"""
from gevent.monkey import patch_all; patch_all()
import logging
from gevent.pywsgi import WSGIServer
from pywb.apps.frontendapp import FrontEndApp
logging.disable(logging.WARNING)
app = FrontEndApp(config_file="config.yaml")
server = WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
server.start()
print(server.server_port, flush=True)
server.serve_forever()
"""

STARTUP_TIMEOUT = 60.0  # seconds

CONFIG = """collections_root: collections
enable_memento: true
framed_replay: false
"""


@dataclass(frozen=True)
class Replayed:
    """What pywb answered."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """First header named ``name`` (case-insensitive)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class PywbReplay:
    """A pywb server in a subprocess; ``add`` collections, ``replay`` URLs."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.port = 0
        self._proc: subprocess.Popen[str] | None = None
        self._names = itertools.count(1)

    def start(self) -> PywbReplay:
        (self.root / "collections").mkdir(parents=True, exist_ok=True)
        (self.root / "config.yaml").write_text(CONFIG)
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        env.pop("PYWB_CONFIG_FILE", None)
        with open(self.root / "pywb.log", "wb") as log:  # the child keeps its own copy
            self._proc = subprocess.Popen(
                [sys.executable, "-c", SERVER], cwd=self.root, env=env,
                stdout=subprocess.PIPE, stderr=log, text=True,
            )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], STARTUP_TIMEOUT)
        line = self._proc.stdout.readline() if ready else ""  # the port, or "" if pywb died
        if not line.strip().isdigit():
            self.stop()
            log_tail = (self.root / "pywb.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pywb did not start:\n{log_tail}")
        self.port = int(line)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def add(self, warcs_dir: Path, name: str | None = None) -> str:
        """Serve ``warcs_dir`` as a new collection; return the collection name."""
        warcs_dir = Path(warcs_dir).resolve()
        update_index(warcs_dir)
        name = name or f"c{next(self._names)}"
        coll = self.root / "collections" / name
        coll.mkdir()
        (coll / "archive").symlink_to(warcs_dir, target_is_directory=True)
        (coll / "indexes").symlink_to(warcs_dir, target_is_directory=True)
        return name

    def get(self, path: str) -> Replayed:
        """GET ``path`` from the server, without following redirects or decoding."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Accept-Encoding": "gzip, deflate, br"})
            resp = conn.getresponse()
            return Replayed(resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()

    def replay(self, coll: str, url: str, timestamp: str = "", mode: str = "id_") -> Replayed:
        """Replay ``url`` as archived closest to ``timestamp`` (14 digits, or '' for latest)."""
        return self.get(f"/{coll}/{timestamp}{mode}/{url}")


_shared: list[PywbReplay] = []


def shared_pywb() -> PywbReplay:
    """The one pywb server of this test process, started on first use, stopped at exit."""
    if not _shared:
        root = Path(tempfile.mkdtemp(prefix="pywb-"))
        server = PywbReplay(root).start()
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        atexit.register(server.stop)
        _shared.append(server)
    return _shared[0]


@pytest.fixture(scope="session")
def pywb() -> PywbReplay:
    """The shared pywb server (one per test process, however many modules import this)."""
    return shared_pywb()
