"""Cited pages for the review tests: articles whose text a test rewrites, on real local servers."""

from __future__ import annotations

import random
from pathlib import Path

from click.testing import CliRunner, Result

from archiver.cli import cli

WORDS = ("harbour council budget river school bridge report museum library station festival market "
         "archive railway garden hospital tunnel ferry mayor election storm vaccine theatre coast "
         "forest mine factory treaty court verdict witness inquiry museum bakery union strike").split()


def prose(seed: int, paragraphs: int = 6, words: int = 60) -> list[str]:
    """Deterministic paragraphs of plausible words; a different seed is a different text."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "." for _ in range(paragraphs)]


def page(title: str, paragraphs: list[str], extra_head: str = "") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>{extra_head}</head>"
            f"<body><nav><a href='/'>Home</a></nav><main><article><h1>{title}</h1>{body}</article></main>"
            f"<footer>Local news</footer></body></html>").encode()


def write_config(tmp_path: Path, article: Path | None = None, extra: str = "") -> Path:
    sources = f'[[sources]]\nname = "test article"\npath = "{article}"\n' if article else ""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[archive]\ndir = "archives"\n{sources}'
        '[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\nretries = 0\n'
        'connect_timeout = "2s"\nread_timeout = "2s"\ntotal_timeout = "5s"\n'
        '[check]\nrecheck_after = "0s"\nretry_failing_after = "0s"\nconfirm_checks = 1\nconfirm_span = "0s"\n'
        '[external]\nlookup = false\n'  # never ask the public web archives from a test
        + extra
    )
    return path


def article_citing(tmp_path: Path, urls: list[str], name: str = "article.txt") -> Path:
    lines = ["An article that cites its sources.", ""]
    lines += [f"Source number {n} says so: {url}" for n, url in enumerate(urls)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def run(config: Path, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    assert result.exit_code == code, (args, result.output, result.exception)
    return result
