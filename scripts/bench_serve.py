"""Benchmark `archiver serve` on a synthetic 10,000-link archive: start-up time and page times.

    .venv/bin/python scripts/bench_serve.py [--links 10000] [--repeat 5] [--starts 3]

The archive is bench_report.py's world (400 articles, two sweeps, three checks
per link, 4% changed links with 3-6 KB texts), built through the store, plus
a few reviewer decisions. Start-up is the wall time from launching
``python -m archiver serve`` to its "workbench:" line (both ports listening,
pywb loaded); the target is under 3 s. Each page is then fetched ``--repeat``
times over HTTP; the median and the slowest are shown.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_report import build_world  # noqa: E402

from archiver.review.decisions import decide  # noqa: E402
from archiver.archive.store import Store  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc): start-up cost without the machine's load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(config: Path) -> tuple[subprocess.Popen[str], float, str, str]:
    port, rport = free_port(), free_port()
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "archiver", "--config", str(config), "serve", "--port", str(port),
                                "--replay-port", str(rport)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    while True:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else ""
        if line.startswith("workbench:"):
            return process, time.perf_counter() - began, f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{rport}/"
        if not ready or process.poll() is not None:
            raise SystemExit(f"serve did not start: {process.stderr.read() if process.stderr else ''}")


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as temp:
        work = Path(temp)
        archive = work / "archives"
        built = time.perf_counter()
        with Store.open(archive) as store:
            build_world(store, args.links)
            changed = [row["url"] for row in store.links("changed")]
            dead = [row["url"] for row in store.links("dead")]
            for url in changed[:5]:
                decide(store, "accept", url=url, by="bench")
            for url in dead[:5]:
                decide(store, "false-alarm", url=url, by="bench", note="bench")
            decide(store, "ignore", host="site7.example", by="bench")
            changed_id = store.links("changed")[0]["id"]
        (archive / "warcs").mkdir(exist_ok=True)
        config = work / "config.toml"
        config.write_text('[archive]\ndir = "archives"\n')
        print(f"archive: {args.links:,} links built in {time.perf_counter() - built:.1f} s")

        starts, cpus = [], []
        for _ in range(args.starts):
            process, seconds, workbench, _ = start(config)
            starts.append(seconds)
            cpus.append(cpu_seconds(process.pid))
            stop(process)
        print(f"start-up (launch to listening, {args.starts} runs): wall median {statistics.median(starts):.2f} s, "
              f"max {max(starts):.2f} s (target < 3 s); CPU median {statistics.median(cpus):.2f} s "
              f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")

        process, _, workbench, _ = start(config)
        pages = [
            ("live report /", ""),
            ("report, changed only", "?state=changed"),
            ("report, search", "?q=site12.example"),
            ("all links, dead", "links?state=dead"),
            ("all links, search", "links?q=00042"),
            ("link page with diff", f"link/{changed_id}"),
            ("decisions", "decisions"),
            ("API links?state=changed", "api/links?state=changed&limit=500"),
            (f"API links/{changed_id}", f"api/links/{changed_id}"),
        ]
        try:
            with httpx.Client(timeout=60) as client:
                print(f"{'page':<28} {'median':>8} {'max':>8} {'bytes':>10}")
                for label, path in pages:
                    times, size = [], 0
                    for _ in range(args.repeat):
                        began = time.perf_counter()
                        response = client.get(workbench + path)
                        times.append(time.perf_counter() - began)
                        response.raise_for_status()
                        size = len(response.content)
                    print(f"{label:<28} {statistics.median(times) * 1000:>6.0f}ms {max(times) * 1000:>6.0f}ms "
                          f"{size:>10,}")
        finally:
            stop(process)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
