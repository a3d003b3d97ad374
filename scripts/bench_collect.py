"""Benchmark: how long collect_html takes on a ~200 KB article page with comments.

Builds the page from a corpus page (lemire.me, a WordPress post with five
comments) by appending copies of its comments, each citing a different URL,
until the page weighs about 200 KB; also times netzpolitik.org as saved
(173 KB, 74 comments). Each figure is compared, in the same run, with two
baselines on the same bytes: a plain lxml parse, and trafilatura.extract
alone (main text with links, no comments), which is what a collector without
comment attribution would cost.

    .venv/bin/python scripts/bench_collect.py [--runs N] [--size KB]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import trafilatura
from lxml.html import document_fromstring

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.collect import collect_html  # noqa: E402

PAGES = Path(__file__).resolve().parents[1] / "tests" / "data" / "corpus" / "pages"
BASE = "https://lemire.me/blog/2019/08/02/json-parsing-simdjson-vs-json-for-modern-c/"
COMMENT = """<li id="comment-{n}" class="comment even thread-even depth-1">
<article id="div-comment-{n}" class="comment-body">
<footer class="comment-meta"><div class="comment-author vcard"><b class="fn">
<a href="https://reader{n}.example.org/" rel="external nofollow ugc" class="url">Reader {n}</a></b>
<span class="says">says:</span></div>
<div class="comment-metadata"><a href="{base}#comment-{n}">
<time datetime="2019-08-06T10:{m:02d}:00+00:00">August 6, 2019 at 10:{m:02d} am</time></a></div></footer>
<div class="comment-content"><p>Comment number {n}. I ran the benchmark again on a different machine and the numbers
moved quite a bit; the details are in
<a href="https://bench{n}.example.net/results/{n}.html" rel="nofollow ugc">my write-up</a>,
and the raw data is at https://data{n}.example.net/raw.csv for anyone who wants to check it. Parsing speed depends on
the input much more than on the compiler flags, in my experience, and small files behave very differently from large
ones.</p></div>
<div class="reply"><a rel="nofollow" class="comment-reply-link" href="{base}?replytocom={n}#respond">Reply</a></div>
</article>
</li>
"""


def padded_page(target_kb: int) -> tuple[bytes, int]:
    """The lemire.me page with extra comments appended to its comment list."""
    html = (PAGES / "lemire.me.json.html").read_text(encoding="utf-8")
    at = html.rindex("</ol>", 0, html.index('<div id="respond"'))  # end of the comment list
    extra: list[str] = []
    n = 0
    while len(html.encode()) + sum(len(c.encode()) for c in extra) < target_kb * 1024:
        n += 1
        extra.append(COMMENT.format(n=900000 + n, m=n % 60, base=BASE))
    return (html[:at] + "".join(extra) + html[at:]).encode("utf-8"), n


CLOCK: Callable[[], float] = time.perf_counter


def timed(fn: Callable[[], object], runs: int) -> float:
    """Median time of ``runs`` calls (wall, or CPU with --cpu), after one warm-up call."""
    fn()
    samples = []
    for _ in range(runs):
        started = CLOCK()
        fn()
        samples.append(CLOCK() - started)
    return statistics.median(samples)


def bench(name: str, data: bytes, base: str, runs: int) -> None:
    result = collect_html(data, base, name)
    comments = sum(1 for link in result.links if link.where == "comment")
    parse = timed(lambda: document_fromstring(data), runs)
    extract = timed(
        lambda: trafilatura.extract(data, output_format="xml", include_links=True, include_comments=False), runs
    )
    collect = timed(lambda: collect_html(data, base, name), runs)
    print(f"{name}: {len(data) / 1024:.0f} KB, {len(result.links)} citations ({comments} in comments)")
    print(f"  lxml parse           {parse * 1000:8.1f} ms")
    print(f"  trafilatura.extract  {extract * 1000:8.1f} ms")
    print(
        f"  collect_html         {collect * 1000:8.1f} ms   = {collect / parse:.1f}x lxml parse, "
        f"{collect / extract:.2f}x trafilatura alone"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per figure (median reported)")
    parser.add_argument("--size", type=int, default=200, help="size of the padded page in KB")
    parser.add_argument("--cpu", action="store_true",
                        help="time this process's CPU instead of the wall clock (steadier on a busy machine)")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.cpu else time.perf_counter
    page, added = padded_page(args.size)
    clock = "CPU" if args.cpu else "wall"
    print(f"median {clock} time of {args.runs} runs each; padded page = lemire.me + {added} comments")
    bench("lemire.me padded", page, BASE, args.runs)
    netzpolitik = PAGES / "netzpolitik.org.abmahnungen.html"
    bench(
        "netzpolitik.org",
        netzpolitik.read_bytes(),
        "https://netzpolitik.org/2016/die-cider-connection-abmahnungen-gegen-nutzer-von-creative-commons-bildern/",
        args.runs,
    )


if __name__ == "__main__":
    main()
