"""Smoke test of the simulated web used by the benchmarks (scripts/simweb.py)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "simweb.py"
CORPUS = Path(__file__).resolve().parent / "data" / "corpus" / "pages"



def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("simweb", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["simweb"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def simweb() -> ModuleType:
    return _load()


@pytest.fixture(scope="module")
def web(simweb: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    world = simweb.World(latency=0.0)
    normal, soft = simweb.host_ip(200), simweb.host_ip(201)
    world.hosts[normal] = simweb.Host(ip=normal, name="normal.example")
    world.hosts[soft] = simweb.Host(ip=soft, kind="soft404", name="soft.example")
    world.add(normal, "/news/page-1.html")
    world.add(normal, "/news/noisy-2.html", simweb.Route(noise=True))
    world.add(normal, "/old/page-1.html", simweb.Route(fate="redirect", location="/news/page-1.html"))
    world.add(soft, "/blog/kept-3.html")
    with simweb.SimWeb(world, tmp_path_factory.mktemp("simweb")) as running:
        yield running


def test_serves_a_page_with_a_body_per_url(simweb: ModuleType, web: object) -> None:
    status, headers, body = simweb.fetch(web.url(simweb.host_ip(200), "/news/page-1.html"))
    assert status == 200
    assert int(headers["content-length"]) == len(body) > 10_000
    assert b"simweb " + simweb.host_ip(200).encode() + b"/news/page-1.html" in body


def test_unknown_path_is_a_404_on_a_normal_host(simweb: ModuleType, web: object) -> None:
    status, _, body = simweb.fetch(web.url(simweb.host_ip(200), "/news/nothing-here.html"))
    assert status == 404
    assert b"not found" in body.lower()


def test_soft404_host_answers_200_with_one_error_page(simweb: ModuleType, web: object) -> None:
    soft = simweb.host_ip(201)
    first = simweb.fetch(web.url(soft, "/blog/gone-1.html"))
    second = simweb.fetch(web.url(soft, "/anything/else"))
    kept = simweb.fetch(web.url(soft, "/blog/kept-3.html"))
    assert first[0] == second[0] == kept[0] == 200
    assert first[2] == second[2] != kept[2]


def test_redirect_and_noise(simweb: ModuleType, web: object) -> None:
    normal = simweb.host_ip(200)
    status, headers, _ = simweb.fetch(web.url(normal, "/old/page-1.html"))
    assert status == 301
    assert headers["location"] == web.url(normal, "/news/page-1.html")
    noisy = [simweb.fetch(web.url(normal, "/news/noisy-2.html"))[2] for _ in range(2)]
    assert noisy[0] != noisy[1]


def test_a_route_changes_between_runs(simweb: ModuleType, web: object) -> None:
    normal = simweb.host_ip(200)
    key = web.world.route_key(normal, "/news/page-1.html")
    before = web.world.routes[key]
    web.world.routes[key] = simweb.Route(fate="status", status=410)
    try:
        web.update()
        assert simweb.fetch(web.url(key))[0] == 410
    finally:
        web.world.routes[key] = before
        web.update()
    assert simweb.fetch(web.url(key))[0] == 200
