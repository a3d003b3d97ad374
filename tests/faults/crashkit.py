"""Real sweeps killed at random moments: the servers, the archive and the tallies the crash tests share."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from archiver.capture.snapshot import BATCH_SIZE

from ..server import TestServer

ARCHIVER = [sys.executable, "-m", "archiver"]


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    out.pop("ARCHIVER_CONFIG", None)
    return out


def page(key: str, size: int) -> bytes:
    """A distinct HTML page of about ``size`` bytes that does not compress to nothing."""
    rng = random.Random(key)
    words = " ".join(f"{rng.getrandbits(40):x}" for _ in range(size // 11))
    return f"<html><head><title>{key}</title></head><body><p>{key} {words}</p></body></html>".encode()


def serve_pages(servers: Iterable[TestServer], per_server: int, size: int, prefix: str) -> list[str]:
    urls = []
    for number, srv in enumerate(servers):
        for n in range(per_server):
            path = f"/{prefix}/{number}/{n}"
            urls.append(srv.route(path, body=page(f"{prefix}-{number}-{n}", size)))
    return urls


def write_sweep_config(directory: Path, urls: list[str], *, warc_max_size: str, extra: str = "") -> Path:
    (directory / "cites.txt").write_text("Sources:\n" + "\n".join(f"- see {u} for more" for u in urls) + "\n")
    path = directory / "config.toml"
    path.write_text(
        f'[archive]\ndir = "archives"\nwarc_max_size = "{warc_max_size}"\n'
        '[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\nretries = 0\n'
        'connect_timeout = "3s"\nread_timeout = "3s"\ntotal_timeout = "10s"\nconcurrency = 16\n'
        'per_host_concurrency = 4\n'
        '[report]\nformats = ["json"]\n'
        '[external]\nlookup = false\n'  # tests never ask the public web archives
        f'{extra}\n[[sources]]\npath = "cites.txt"\n'
    )
    return path


def sweep(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ARCHIVER, "--config", str(config), *args, "sweep"], capture_output=True, text=True,
                          timeout=timeout, env=env(), cwd=config.parent)


def sweep_killed_at(config: Path, captures: int, *, unrecorded: bool = False, timeout: float = 120) -> None:
    """Start ``archiver sweep`` and ``kill -9`` it and all its processes once the database has
    recorded at least ``captures`` captures and, with ``unrecorded``, once the WARC files have
    grown past what was on disk then (records written that no commit covers yet: the moment a
    kill must not turn into a lost or duplicated capture). Both are events, not delays, so the
    kill lands mid-capture however fast or loaded the machine is. Kills anyway when the sweep
    ended first or after ``timeout`` s."""
    proc = subprocess.Popen([*ARCHIVER, "--config", str(config), "sweep"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env(), cwd=config.parent, start_new_session=True)
    warcs = config.parent / "archives" / "warcs"
    db = config.parent / "archives" / "archive.db"
    deadline = time.monotonic() + timeout
    grown_past: int | None = None
    while time.monotonic() < deadline and proc.poll() is None:
        if grown_past is None:
            if recorded_count(db) >= captures:
                if not unrecorded:
                    break
                grown_past = warc_bytes(warcs)
        elif warc_bytes(warcs) > grown_past:
            break
        time.sleep(0.002)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep, its fetch workers and their fork server
    except ProcessLookupError:
        pass
    proc.wait()


def recorded_count(db: Path) -> int:
    """How many response captures the database has committed (0 before it exists)."""
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
    except sqlite3.OperationalError:
        return 0
    try:
        return int(conn.execute("SELECT count(*) FROM captures WHERE kind IN ('response', 'revisit')").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not committed yet
        return 0
    finally:
        conn.close()


def warc_bytes(warcs: Path) -> int:
    """The size of every WARC file of the archive (closed or ``.open``), as far as it can be read now."""
    total = 0
    for path in warcs.glob("*.warc.gz*"):
        try:
            total += path.stat().st_size
        except FileNotFoundError:  # renamed meanwhile (closed): counted under its new name next time
            pass
    return total


@dataclass
class Tally:
    """Captures lost and duplicated over many kill -9 runs."""

    runs: int = 0
    lost: int = 0
    duplicated: int = 0
    kills_before_end: int = 0
    notes: list[str] = field(default_factory=list)


def recorded_captures(db: Path) -> set[tuple[int, str, int]]:
    """(capture id, warc, offset) of every stored response capture, read without taking the lock."""
    if not db.exists():
        return set()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT id, warc, offset FROM captures WHERE kind IN ('response', 'revisit')")}
    except sqlite3.OperationalError:  # killed before the schema was committed
        return set()
    finally:
        conn.close()


def captures_per_url(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        counts = {row[0]: 0 for row in conn.execute("SELECT url FROM links")}
        for url, n in conn.execute("SELECT l.url, count(c.id) FROM links l JOIN captures c ON c.link_id = l.id "
                                   "WHERE c.kind IN ('response', 'revisit') GROUP BY l.url"):
            counts[url] = n
        return counts
    finally:
        conn.close()


def unrecorded_responses(archive_dir: Path) -> int:
    """Response/revisit records in the closed WARCs that no database row points at."""
    from .invariants import closed_warcs, read_records

    conn = sqlite3.connect(f"file:{archive_dir / 'archive.db'}?mode=ro", uri=True)
    try:
        known = {(r[0], r[1]) for r in conn.execute("SELECT warc, offset FROM records")}
    finally:
        conn.close()
    return sum(1 for path in closed_warcs(archive_dir) for r in read_records(path)
               if r.rec_type in ("response", "revisit") and (r.warc, r.offset) not in known)


def kill_and_recover(workdir: Path, config: Path, urls: list[str], rng: random.Random, tally: Tally,
                     *, kills: int = 1) -> None:
    """``kills`` sweeps killed mid-capture, then a clean sweep; count what was lost or duplicated.

    Each kill is aimed at an event (seeded, so every run of the test kills at the same points):
    once the database has recorded a random number of captures more than before, and for half
    the kills once more WARC bytes were written after that (not yet committed)."""
    archive_dir = workdir / "archives"
    db = archive_dir / "archive.db"
    before: set[tuple[int, str, int]] = set()
    for _ in range(kills):
        done_before = len(before)
        if done_before + 1 >= len(urls):
            break  # nothing left to kill mid-capture
        # at least a batch (one commit) before the end: the commit that reaches the target is not the last
        at = rng.randint(done_before + 1, max(done_before + 1, len(urls) - min(BATCH_SIZE, len(urls) // 2)))
        sweep_killed_at(config, at, unrecorded=rng.random() < 0.5)
        before = recorded_captures(db)
    done = sweep(config)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    after = recorded_captures(db)
    per_url = captures_per_url(db)
    lost = len(before - after) + sum(1 for u in urls if per_url.get(u, 0) == 0)
    duplicated = sum(n - 1 for n in per_url.values() if n > 1) + unrecorded_responses(archive_dir)
    tally.runs += 1
    tally.lost += lost
    tally.duplicated += duplicated
    tally.kills_before_end += 0 < len(before) < len(urls)
    if lost or duplicated:
        tally.notes.append(f"run {tally.runs}: {lost} lost, {duplicated} duplicated; clean run said: {done.stderr[-500:]}")


def unrecorded_by_file(archive_dir: Path) -> dict[str, int]:
    """Response records per WARC file (closed or ``.open``) that the database does not know, read as
    far as the records are complete."""
    from warcio.archiveiterator import ArchiveIterator

    conn = sqlite3.connect(f"file:{archive_dir / 'archive.db'}?mode=ro", uri=True)
    try:
        known = {(r[0], r[1]) for r in conn.execute("SELECT warc, offset FROM records")}
    finally:
        conn.close()
    found: dict[str, int] = {}
    for path in sorted((archive_dir / "warcs").glob("*.warc.gz*")):
        name = path.name.removesuffix(".open")
        with open(path, "rb") as stream:
            iterator = ArchiveIterator(stream)
            try:
                for record in iterator:
                    if record.rec_type == "response" and (name, iterator.get_record_offset()) not in known:
                        found[name] = found.get(name, 0) + 1
            except Exception:  # noqa: BLE001 - a torn record at the end of a file left open
                pass
    return found
