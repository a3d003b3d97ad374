#!/usr/bin/env python3
"""What rendering costs (issue 12): pages rendered per minute, and a static sweep with and without it.

1. **Renders per minute.** scripts/simweb.py serves ``--spa`` application
   shells whose articles come from a JSON API (the world's ``spa`` pages);
   ``archiver.check.render.Renderer`` renders them all with ``[render]
   max_concurrent`` pages at once (default 2) in Debian's chromium. Reported:
   wall time, CPU of this process and of the browser's processes (user+sys,
   from ``RUSAGE_CHILDREN`` once the browser has exited), pages per minute.
2. **A static sweep stays as fast.** ``archiver sweep --no-report`` of
   ``--static`` corpus pages over 50 hosts, twice in fresh archives: ``[render]
   mode = "never"`` and ``mode = "auto"`` (the default). Ratio auto/never of
   wall and CPU (target: about 1; ``auto`` only looks at small pages with few
   paragraphs and renders none of these). The share of pages that needed
   rendering is counted (``conversion`` records in the WARCs).
3. **A mixed sweep.** The same static pages plus ``--spa`` shells (the share a
   sweep of real citations might have): the wall and CPU a sweep pays for them.

    .venv/bin/python scripts/bench_render.py
    .venv/bin/python scripts/bench_render.py --spa 60 --static 2000 --concurrent 2 --json render.json
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_sweep import measure, write_citations  # noqa: E402
from simweb import Host, Route, SimWeb, World, bench_world, corpus_pages, host_ip, write_config  # noqa: E402
from world import JSON, spa_answer, spa_shell  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARCHIVER = ROOT / ".venv" / "bin" / "archiver"


def add_spa(world: World, count: int, base_index: int = 5000, per_host: int = 10) -> list[str]:
    """``count`` application shells (and their APIs) on hosts of their own; returns their route keys."""
    pages = corpus_pages()
    keys = []
    for n in range(count):
        ip = host_ip(base_index + n // per_host)
        world.hosts.setdefault(ip, Host(ip=ip, name=f"spa-{n // per_host}.example"))
        keys.append(world.add(ip, f"/app/story-{n}", Route(fate="body", status=200,
                                                           body=spa_shell(f"/api/story-{n}.json"))))
        world.add(ip, f"/api/story-{n}.json", Route(fate="body", status=200, headers=JSON,
                                                    body=spa_answer(pages, n % len(pages))))
    return keys


def renders_per_minute(urls: list[str], concurrent: int, timeout: float) -> dict[str, Any]:
    from archiver.config import Config, FetchConfig, RenderConfig
    from archiver.check.render import Renderer

    config = Config(fetch=replace(FetchConfig(), allow_private_networks=True),
                    render=RenderConfig(mode="auto", max_concurrent=concurrent, timeout=timeout))
    before_self, before_children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)

    async def run() -> tuple[list[Any], float, float]:
        async with Renderer(config) as renderer:
            if not renderer.available:
                raise SystemExit(f"bench_render: {renderer.problem}")
            started = time.monotonic()
            await renderer.render(urls[0])  # the browser's first page warms it up: timed apart
            warm = time.monotonic() - started
            started = time.monotonic()
            done = await asyncio.gather(*(renderer.render(u) for u in urls))
            return done, time.monotonic() - started, warm

    done, wall, warm = asyncio.run(run())
    after_self, after_children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_self = (after_self.ru_utime + after_self.ru_stime) - (before_self.ru_utime + before_self.ru_stime)
    cpu_browser = (after_children.ru_utime + after_children.ru_stime) \
        - (before_children.ru_utime + before_children.ru_stime)
    ok = [d for d in done if d is not None and len(d.page.text.split()) > 50]
    return {"pages": len(urls), "rendered_with_text": len(ok), "concurrent": concurrent, "wall_s": round(wall, 2),
            "first_page_s": round(warm, 2), "pages_per_minute": round(60 * len(urls) / wall, 1),
            "cpu_s": {"archiver": round(cpu_self, 2), "chromium": round(cpu_browser, 2)},
            "cpu_per_page_s": round((cpu_self + cpu_browser) / max(1, len(urls)), 3),
            "cores": os.cpu_count()}


def sweep(web: SimWeb, urls: list[str], workdir: Path, label: str, mode: str, timeout: float) -> dict[str, Any]:
    run_dir = workdir / label
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    write_citations(run_dir / "citations.txt", urls)
    config = write_config(run_dir / "config.toml", "archive", sources=["citations.txt"],
                          fetch={"connect_timeout": "5s", "read_timeout": "10s", "total_timeout": "30s"})
    with open(config, "a") as fh:
        fh.write(f'\n[render]\nmode = "{mode}"\n')
    measured = measure([str(ARCHIVER), "--config", str(config), "sweep", "--no-report"], run_dir, "sweep", timeout)
    conversions = 0
    for path in (run_dir / "archive" / "warcs").glob("*.warc.gz"):
        with gzip.open(path, "rb") as fh:
            conversions += fh.read().count(b"WARC-Type: conversion\r\n")
    return {"label": label, "mode": mode, "links": len(urls), "returncode": measured.returncode,
            "wall_s": round(measured.wall, 2), "cpu_s": round(measured.user + measured.sys, 2),
            "rendered": conversions, "rendered_share": round(conversions / max(1, len(urls)), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spa", type=int, default=40, help="application shells to render")
    parser.add_argument("--static", type=int, default=1000, help="static corpus pages in the sweeps")
    parser.add_argument("--concurrent", type=int, default=2, help="[render] max_concurrent")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args(argv)
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="bench-render-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    try:
        world = bench_world(hosts=50, urls=args.static, latency=args.latency)
        static_keys = [k for k in world.routes]
        spa_keys = add_spa(world, args.spa)
        with SimWeb(world, workdir / "simweb") as web:
            static = [web.url(k) for k in static_keys]
            spa = [web.url(k) for k in spa_keys]
            results["render"] = renders_per_minute(spa, args.concurrent, args.timeout)
            print(json.dumps(results["render"]), file=sys.stderr)
            results["static_never"] = sweep(web, static, workdir, "static-never", "never", 1800)
            results["static_auto"] = sweep(web, static, workdir, "static-auto", "auto", 1800)
            results["mixed_auto"] = sweep(web, static + spa, workdir, "mixed-auto", "auto", 1800)
        never, auto, mixed = results["static_never"], results["static_auto"], results["mixed_auto"]
        results["static_ratio"] = {"wall": round(auto["wall_s"] / never["wall_s"], 3),
                                   "cpu": round(auto["cpu_s"] / never["cpu_s"], 3)}
        render = results["render"]
        print(f"renders: {render['pages']} shells, {render['concurrent']} at once: {render['wall_s']} s wall, "
              f"{render['pages_per_minute']} pages/min on {render['cores']} cores; CPU {render['cpu_per_page_s']} s "
              f"a page (archiver {render['cpu_s']['archiver']} s, chromium {render['cpu_s']['chromium']} s); "
              f"{render['rendered_with_text']} rendered with their article")
        print(f"static sweep of {never['links']} pages: never {never['wall_s']} s wall / {never['cpu_s']} s CPU, "
              f"auto {auto['wall_s']} s / {auto['cpu_s']} s: ratio wall {results['static_ratio']['wall']}, "
              f"CPU {results['static_ratio']['cpu']}; rendered {auto['rendered']} ({100 * auto['rendered_share']:.1f}%)")
        print(f"mixed sweep ({never['links']} static + {len(spa)} shells): {mixed['wall_s']} s wall / "
              f"{mixed['cpu_s']} s CPU; rendered {mixed['rendered']} ({100 * mixed['rendered_share']:.1f}%)")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        if args.dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
