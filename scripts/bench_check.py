#!/usr/bin/env python3
"""CPU of `archiver check` against the CPU of the extractions it cannot avoid (issue 5).

Target: checking 2,000 links of which half are byte-identical to their cited
copy costs at most 1.3x the CPU of the extractions it must do.

One invocation:

1. starts scripts/simweb.py with 2,000 pages over 100 hosts (real corpus pages);
2. ``archiver sweep --no-report`` from a text file citing every URL: the cited copies;
3. modifies half of the pages (``--modify``: ``edit`` = a 2% word edit, the default;
   ``noise`` = rotating ads/timestamps on every request; ``bytes`` = new bytes,
   same text; ``rewrite`` = 70% of paragraphs rewritten); the other half stay
   byte-identical (``--all-modified``: every page is modified; with ``--modify noise``
   every page's bytes then differ while its main text stays the same: the common
   case of a nightly re-check);
4. times ``archiver check --all`` (CPU = user+sys of the process tree, os.wait4);
5. baseline: in a fresh process, times ``archiver.check.extract.extract`` (else
   ``trafilatura.extract``) over exactly the pages the checker must extract:

   - the live page of every *modified* link (1,000): its bytes differ from the
     cited copy, so its main text is needed;
   - the cited copy of every modified link whose main text is not already stored
     in the ``texts`` table (counted from archive.db before the check; the
     cited copy's text is computed once and stored, so a snapshot that stored it
     leaves nothing to do here);
   - nothing for the byte-identical half: an identical payload digest decides
     ``ok, unchanged`` without extraction;
   - nothing for the soft-404 probes: on these hosts they answer 404.

   So the minimal work is 1,000 to 2,000 extractions; the ratio is
   check CPU / baseline extraction CPU (interpreter start and imports are in the
   check's CPU but not in the baseline's: they are reported separately).

    .venv/bin/python scripts/bench_check.py
    .venv/bin/python scripts/bench_check.py --modify noise --json check.json
    .venv/bin/python scripts/bench_check.py --modify noise --all-modified --latency 0.05 --urls 20000 --no-baseline

Throughput (links/s over the check's wall time), CPU ms per link and the peak RSS
of the check's whole process tree (extraction workers included) are printed too.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sweep import Measured, clean_env, measure, write_citations  # noqa: E402
from simweb import Route, SimWeb, World, bench_world, write_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARCHIVER = ROOT / ".venv" / "bin" / "archiver"
PYTHON = ROOT / ".venv" / "bin" / "python"
# Every modification bumps the version too, so the bytes change even on a page whose
# article has no <p> text to edit.
MODIFICATIONS = {
    "edit": {"edit": 0.02, "version": 1},
    "noise": {"noise": True, "version": 1},
    "bytes": {"version": 1},
    "rewrite": {"rewrite": 0.7, "version": 1},
}


def modified_route(route: Route, how: str) -> Route:
    return Route(page=route.page, **MODIFICATIONS[how])  # type: ignore[arg-type]


def split_half(world: World, every: bool = False) -> tuple[list[str], list[str]]:
    """(identical keys, modified keys): every other route is modified (``every``: all of them)."""
    keys = list(world.routes)
    return ([], keys) if every else (keys[0::2], keys[1::2])


def stored_texts(db: Path, urls: list[str]) -> set[str]:
    """Those of these links whose cited copy already has its main text stored."""
    if not db.exists():
        return set()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        wanted = set(urls)
        rows = conn.execute(
            "SELECT l.url FROM links l JOIN captures c ON c.id = l.cited_capture_id "
            "JOIN texts t ON t.payload_digest = c.payload_digest").fetchall()
        return {url for (url,) in rows if url in wanted}
    except sqlite3.Error:
        return set()
    finally:
        conn.close()


# -- the baseline, run in a fresh process ---------------------------------------------------

BASELINE = r"""
import json, sys, time, random
sys.path.insert(0, sys.argv[1])
from simweb import Route, corpus_pages, render_page
spec = json.load(open(sys.argv[2]))
t0 = time.process_time()
try:
    from archiver.check.extract import decode_text, extract
    def run(body, url):
        return extract(decode_text(body, "text/html; charset=utf-8"), url)
    which = "archiver.check.extract.extract"
except ImportError:
    import trafilatura
    def run(body, url):
        return trafilatura.extract(body.decode("utf-8", "replace"), url=url)
    which = "trafilatura.extract"
import_cpu = time.process_time() - t0
pages = corpus_pages()
bodies = [(render_page(pages, key, Route(**route), random.Random(i)), url)
          for i, (key, url, route) in enumerate(spec["pages"])]
run(bodies[0][0], bodies[0][1])  # warm caches as a long-running checker would have them
t0 = time.process_time()
for body, url in bodies:
    run(body, url)
cpu = time.process_time() - t0
print(json.dumps({"extractions": len(bodies), "cpu_s": cpu, "import_cpu_s": import_cpu, "function": which}))
"""


def baseline(workdir: Path, pages: list[tuple[str, str, dict[str, Any]]], python: Path) -> dict[str, Any]:
    spec = workdir / "baseline.json"
    spec.write_text(json.dumps({"pages": pages}))
    done = subprocess.run([str(python), "-c", BASELINE, str(Path(__file__).resolve().parent), str(spec)],
                          capture_output=True, text=True, timeout=3600, env=clean_env(), cwd=workdir)
    if done.returncode:
        raise RuntimeError(f"baseline failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def startup_cpu(archiver: Path, workdir: Path) -> float:
    """CPU of `archiver --help` (interpreter start + CLI import), for context."""
    return measure([str(archiver), "--help"], workdir, "startup", 120).cpu


# -- main -----------------------------------------------------------------------------------


def _asdict(m: Measured) -> dict[str, Any]:
    return {"returncode": m.returncode, "wall_s": round(m.wall, 3), "cpu_s": round(m.cpu, 3),
            "user_s": round(m.user, 3), "sys_s": round(m.sys, 3), "tree_rss_mb": round(m.tree_rss_mb, 1),
            "timed_out": m.timed_out, "stderr_tail": m.stderr_tail[-1500:] if m.returncode not in (0, 3) else ""}


def outcomes(run_dir: Path, urls_identical: set[str], urls_modified: set[str]) -> dict[str, dict[str, int]]:
    try:
        data = json.loads((run_dir / "check.stdout").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    groups: dict[str, Counter[str]] = {"identical": Counter(), "modified": Counter(), "other": Counter()}
    for item in data:
        group = "identical" if item["url"] in urls_identical else "modified" if item["url"] in urls_modified else "other"
        groups[group][f"{item['verdict']}/{item['reason']}"] += 1
    return {k: dict(v) for k, v in groups.items() if v}


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    world = bench_world(hosts=args.hosts, urls=args.urls, latency=args.latency, seed=args.seed)
    identical, modified = split_half(world, args.all_modified)
    originals = {key: world.routes[key] for key in modified}
    result: dict[str, Any] = {"parameters": {"urls": args.urls, "hosts": args.hosts, "modify": args.modify,
                                             "latency": args.latency, "all_modified": args.all_modified}}
    run_dir = workdir / "archiver"
    run_dir.mkdir(parents=True, exist_ok=True)
    reused = args.reuse and (run_dir / "archive" / "archive.db").exists()
    if reused:  # the cited copies of an earlier --keep run: the simulated web comes back on its port
        for key in modified:
            world.routes[key] = modified_route(originals[key], args.modify)
    with SimWeb(world, workdir / "simweb", port=cited_port(run_dir) if reused else 0) as web:
        urls = web.page_urls()
        config = run_dir / "config.toml"
        if reused:
            snap = Measured([], 0, 0.0, 0.0, 0.0, 0.0, 0.0, False, "", "")
        else:
            write_citations(run_dir / "citations.txt", urls)
            write_config(config, "archive", sources=["citations.txt"],
                         fetch={"connect_timeout": "5s", "read_timeout": "5s", "total_timeout": "20s"},
                         report_formats=["json"])
            print(f"bench_check: snapshot of {len(urls)} pages ...", file=sys.stderr, flush=True)
            snap = measure([str(args.archiver), "--config", str(config), "sweep", "--no-report"], run_dir,
                           "sweep", args.run_timeout)
            if snap.returncode != 0:
                raise RuntimeError(f"sweep failed ({snap.returncode}):\n{snap.stderr_tail}")
            for key in modified:
                world.routes[key] = modified_route(originals[key], args.modify)
            web.update()
        modified_urls = [web.url(k) for k in modified]
        cached = stored_texts(run_dir / "archive" / "archive.db", modified_urls)
        print("bench_check: archiver check --all ...", file=sys.stderr, flush=True)
        check = measure([str(args.archiver), "--config", str(config), "check", "--all", "--format", "json"],
                        run_dir, "check", args.run_timeout)
        result["check_outcomes"] = outcomes(run_dir, {web.url(k) for k in identical}, set(modified_urls))
        if args.second_check:
            again = measure([str(args.archiver), "--config", str(config), "check", "--all", "--format", "json"],
                            run_dir, "check2", args.run_timeout)
            result["second_check"] = _asdict(again)
        needed = [(key, web.url(key), vars_of(world.routes[key])) for key in modified]
        needed += [(key, web.url(key), vars_of(originals[key])) for key in modified if web.url(key) not in cached]
    if args.no_baseline:
        base: dict[str, Any] = {"extractions": len(needed), "cpu_s": 0.0, "import_cpu_s": 0.0, "function": "not measured"}
    else:
        print(f"bench_check: baseline: {len(needed)} extractions ...", file=sys.stderr, flush=True)
        base = baseline(workdir, needed, args.python)
    result.update(snapshot=_asdict(snap), check=_asdict(check), baseline=base,
                  cited_texts_stored_before_check=len(cached), startup_cpu_s=round(startup_cpu(args.archiver, run_dir), 3))
    result["ratio"] = round(check.cpu / base["cpu_s"], 3) if base["cpu_s"] and check.returncode in (0, 3) else None
    result["links_per_s"] = round(args.urls / check.wall, 1) if check.wall else None
    result["cpu_ms_per_link"] = round(1000 * check.cpu / max(1, args.urls), 2)
    return result


def cited_port(run_dir: Path) -> int:
    """The simulated web's port in the citations of a kept run (its URLs are in the archive)."""
    found = re.search(r"http://127\.[0-9.]+:([0-9]+)/", (run_dir / "citations.txt").read_text())
    if found is None:
        raise RuntimeError(f"{run_dir / 'citations.txt'}: no simulated web URL to take the port from")
    return int(found.group(1))


def vars_of(route: Route) -> dict[str, Any]:
    return dict(vars(route))


def print_report(r: dict[str, Any]) -> None:
    p, check, base = r["parameters"], r["check"], r["baseline"]
    share = "every page modified" if p.get("all_modified") else "half byte-identical, half modified"
    print(f"\nbench_check: {p['urls']} links over {p['hosts']} hosts, {p['latency']} s latency; {share} "
          f"({p['modify']})")
    print(f"  snapshot (sweep):          wall {r['snapshot']['wall_s']} s, CPU {r['snapshot']['cpu_s']} s")
    print(f"  check --all:               wall {check['wall_s']} s, CPU {check['cpu_s']} s "
          f"(exit {check['returncode']}; `archiver --help` alone: {r['startup_cpu_s']} s), "
          f"peak RSS {check['tree_rss_mb']} MB")
    print(f"  throughput:                {r['links_per_s']} links/s, {r['cpu_ms_per_link']} ms CPU per link "
          f"(process tree)")
    print(f"  cited texts stored before the check: {r['cited_texts_stored_before_check']}")
    print(f"  minimal extractions:       {base['extractions']} ({base['function']}), CPU {base['cpu_s']:.3f} s "
          f"= {1000 * base['cpu_s'] / max(1, base['extractions']):.1f} ms each")
    ratio = r["ratio"]
    ok = ratio is not None and ratio <= 1.3
    if base["cpu_s"]:
        print(f"  ratio check CPU / extraction CPU: {ratio}  (target <= 1.3)  [{'PASS' if ok else 'FAIL'}]")
    if "second_check" in r:
        print(f"  second check --all:        wall {r['second_check']['wall_s']} s, CPU {r['second_check']['cpu_s']} s")
    for group, counts in r.get("check_outcomes", {}).items():
        print(f"  verdicts, {group:<9}  {counts}")
    if check.get("stderr_tail"):
        print("  check stderr:\n    " + check["stderr_tail"].strip().replace("\n", "\n    "))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--modify", choices=sorted(MODIFICATIONS), default="edit")
    parser.add_argument("--all-modified", action="store_true",
                        help="modify every page, not every other one (with --modify noise: every page's bytes "
                             "differ, its main text is the same)")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip timing the minimal extractions in a separate process")
    parser.add_argument("--second-check", action="store_true", help="time a second check --all too")
    parser.add_argument("--archiver", type=Path, default=ARCHIVER)
    parser.add_argument("--python", type=Path, default=PYTHON, help="interpreter with archiver installed")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true",
                        help="with --dir of an earlier run (same --urls, --hosts, --seed): check its archive "
                             "again, without a new snapshot (the simulated web returns on the same port)")
    parser.add_argument("--run-timeout", type=float, default=1800.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="bench-check-"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        result = run(args, workdir)
        result["seconds"] = round(time.monotonic() - started, 1)
        print_report(result)
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"bench_check: work directory kept: {workdir}", file=sys.stderr)
    if args.no_baseline:
        return 0 if result["check"]["returncode"] in (0, 3) else 1
    return 0 if result["ratio"] is not None and result["ratio"] <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
