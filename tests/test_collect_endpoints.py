"""Comment platforms read through their public endpoints (issue 13).

Each platform is a local server answering with the platform's documented JSON
shapes (pagination, collapsed "more" replies, reply trees included), found
from an article page the way the platform's own script finds it. Every
endpoint request goes through the fetcher (network guard, politeness).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.collect import Collected, collect_html
from archiver.collect.endpoints import APIs, EndpointComment, thread_links
from archiver.collect.endpoints.base import thread_order
from archiver.collect.endpoints.bluesky import BlueskyThread
from archiver.collect.endpoints.discourse import DiscourseThread
from archiver.collect.endpoints.disqus import DisqusThread
from archiver.collect.endpoints.hackernews import HackerNewsThread
from archiver.collect.endpoints.mastodon import MastodonThread
from archiver.collect.endpoints.reddit import RedditThread
from archiver.collect.endpoints.wordpress import WordPressThread
from archiver.config import Config
from archiver.capture.fetch import Fetcher
from archiver.collect.harvest import Harvester
from archiver.archive.store import Store
from archiver.collect.threads import add_platform_comments

from .server import TestServer, respond

Answer = Callable[[dict[str, list[str]]], tuple[int, Any, dict[str, str]]]


def _json_route(server: TestServer, path: str, answer: Answer, seen: list[str] | None = None) -> str:
    def handler(req: BaseHTTPRequestHandler) -> None:
        if seen is not None:
            seen.append(req.path)
        status, data, headers = answer(parse_qs(urlsplit(req.path).query))
        respond(req, status, json.dumps(data).encode(), headers, "application/json; charset=utf-8")

    return server.route(path, handler=handler)


def _harvest(config: Config, tmp_path: Path, page: str, url: str, apis: APIs | None = None) -> Collected:
    async def go() -> Collected:
        async with Fetcher(config.fetch, temp_dir=tmp_path / "tmp") as fetcher:
            collected = collect_html(page, url, url)
            return await add_platform_comments(collected, page, url, fetcher, config.collect.max_comments, apis)

    return asyncio.run(go())


def _comments(collected: Collected) -> list[tuple[int | None, str | None, str]]:
    return [(link.comment, link.comment_author, link.url) for link in collected.links if link.where == "comment"]


# --- WordPress -------------------------------------------------------------------

WP_PAGES = {
    1: [(11, 0, "Ada", "<p>See <a href=\"https://a.example.org/report\">the report</a>.</p>"),
        (12, 0, "Ben", "<p>I agree.</p>")],
    2: [(13, 11, "Cleo", "<p>The data: <a href=\"https://b.example.org/data.csv\" rel=\"nofollow ugc\">csv</a></p>"),
        (14, 0, "Dan", "<p>Nothing to add.</p>")],
    3: [(15, 13, "Eve", "<p>Mirror: <a href=\"https://c.example.org/mirror\">here</a></p>"),
        (16, 0, "Fay", "<p>Also https://d.example.org/notes.html was useful.</p>")],
}


def _wordpress(server: TestServer, prefix: str, seen: list[str]) -> tuple[str, str]:
    def comments(query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        assert query["post"] == ["4821"] and query["per_page"] == ["100"]
        page = int(query.get("page", ["1"])[0])
        items = [
            {"id": cid, "post": 4821, "parent": parent, "author": 0, "author_name": name,
             "author_url": f"https://{name.lower()}.example.net/", "date": "2023-08-14T11:40:52",
             "date_gmt": "2023-08-14T09:40:52", "content": {"rendered": html},
             "link": f"{server.url(prefix)}#comment-{cid}", "status": "approved", "type": "comment"}
            for cid, parent, name, html in WP_PAGES.get(page, [])
        ]  # fmt: skip
        return 200, items, {"X-WP-Total": "6", "X-WP-TotalPages": "3"}

    _json_route(server, f"{prefix}wp-json/wp/v2/comments", comments, seen)
    page = f"""<html><head><title>Post</title>
    <link rel="https://api.w.org/" href="{server.url(prefix + 'wp-json/')}" />
    <link rel="alternate" type="application/json" href="{server.url(prefix + 'wp-json/wp/v2/posts/4821')}" />
    </head><body class="single postid-4821"><article><div class="entry-content">
    <p>A post about reports that cites <a href="https://source.example.com/original">the original study</a>.</p>
    </div></article>
    <ol class="comment-list">
      <li id="comment-11" class="comment"><div class="comment-author vcard"><b class="fn">Ada</b></div>
        <div class="comment-content"><p>See <a href="https://a.example.org/report">the report</a>.</p></div></li>
      <li id="comment-17" class="pingback"><div class="comment-body">Pingback: <a class="url"
        href="https://citing.example.net/2023/weekly/">Weekly links</a></div></li>
    </ol>
    <nav class="comment-navigation"><a href="{server.url(prefix + 'post/comment-page-2/')}#comments">Older comments</a></nav>
    </body></html>"""
    return page, server.url(prefix + "post/")


def test_wordpress_comments_all_pages_in_thread_order(server: TestServer, config: Config, tmp_path: Path) -> None:
    seen: list[str] = []
    page, url = _wordpress(server, "/wp1/", seen)
    collected = _harvest(config, tmp_path, page, url)
    assert _comments(collected) == [
        (1, "Ada", "https://a.example.org/report"),
        (2, "Cleo", "https://b.example.org/data.csv"),
        (3, "Eve", "https://c.example.org/mirror"),
        (6, "Fay", "https://d.example.org/notes.html"),
        (7, "Weekly links", "https://citing.example.net/2023/weekly/"),  # the page's pingback, after the platform's
    ]
    by_url = {link.url: link for link in collected.links}
    reply = by_url["https://c.example.org/mirror"]
    assert (reply.comment_parent, reply.comment_date, reply.comment_kind) == (2, "2023-08-14T09:40:52Z", "comment")
    assert reply.comment_permalink == server.url("/wp1/") + "#comment-15"
    assert by_url["https://citing.example.net/2023/weekly/"].comment_kind == "pingback"
    assert by_url["https://source.example.com/original"].where == "body"
    assert len(seen) == 3 and {parse_qs(urlsplit(p).query)["page"][0] for p in seen} == {"1", "2", "3"}


def test_comment_cap_stops_reading_with_a_note(server: TestServer, config: Config, tmp_path: Path) -> None:
    seen: list[str] = []
    page, url = _wordpress(server, "/wp2/", seen)
    capped = replace(config, collect=replace(config.collect, max_comments=3))
    collected = _harvest(capped, tmp_path, page, url)
    numbers = {link.comment for link in collected.links if link.where == "comment" and link.comment_kind == "comment"}
    assert numbers <= {1, 2, 3}
    assert any("max_comments" in p.message for p in collected.problems)
    assert len(seen) == 2  # the third page was never asked for


def test_platform_that_does_not_answer_leaves_the_page_comments(
    server: TestServer, config: Config, tmp_path: Path
) -> None:
    page, url = _wordpress(server, "/wp3/", [])
    page = page.replace("/wp3/wp-json/", "/wp3-missing/wp-json/")
    collected = _harvest(config, tmp_path, page, url)
    assert _comments(collected) == [
        (1, "Ada", "https://a.example.org/report"),
        (2, "Weekly links", "https://citing.example.net/2023/weekly/"),
    ]
    assert any("WordPress comments" in p.message and "404" in p.message for p in collected.problems)


def test_a_page_showing_all_its_comments_is_not_asked_again(server: TestServer, config: Config, tmp_path: Path) -> None:
    seen: list[str] = []
    page, url = _wordpress(server, "/wp6/", seen)
    page = page.replace("comment-page-2", "about")  # no other comment page: the HTML has them all
    collected = _harvest(config, tmp_path, page, url)
    assert seen == []
    assert _comments(collected) == [(1, "Ada", "https://a.example.org/report"),
                                    (2, "Weekly links", "https://citing.example.net/2023/weekly/")]
    counted = page.replace('<ol class="comment-list">', '<h2 class="comments-title">6 thoughts on “Post”</h2><ol>')
    _harvest(config, tmp_path, counted, url)  # the heading counts more than the page shows
    assert len(seen) == 3


def test_a_platform_that_lists_no_comment_leaves_the_page_comments(
    server: TestServer, config: Config, tmp_path: Path
) -> None:
    page, url = _wordpress(server, "/wp8/", [])
    _json_route(server, "/wp8/wp-json/wp/v2/comments", lambda q: (200, [], {"X-WP-Total": "0", "X-WP-TotalPages": "0"}))
    collected = _harvest(config, tmp_path, page, url)
    assert _comments(collected) == [(1, "Ada", "https://a.example.org/report"),
                                    (2, "Weekly links", "https://citing.example.net/2023/weekly/")]


def test_pingbacks_come_after_every_platform_comment_linked_or_not(
    server: TestServer, config: Config, tmp_path: Path
) -> None:
    page, url = _wordpress(server, "/wp9/", [])
    rows = [{"id": n, "parent": 0, "author_name": f"R{n}", "date_gmt": "2023-01-01T00:00:00",
             "content": {"rendered": '<p><a href="https://one.example.org/">one</a></p>' if n == 1 else "<p>no link</p>"}}
            for n in range(1, 5)]  # fmt: skip
    _json_route(server, "/wp9/wp-json/wp/v2/comments", lambda q: (200, rows, {"X-WP-TotalPages": "1"}))
    collected = _harvest(config, tmp_path, page, url)
    assert _comments(collected) == [(1, "R1", "https://one.example.org/"),
                                    (5, "Weekly links", "https://citing.example.net/2023/weekly/")]


def test_a_rate_limited_platform_is_not_asked_again(server: TestServer, config: Config, tmp_path: Path) -> None:
    seen: list[str] = []

    def limited(query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        if query.get("page") == ["1"]:
            return 200, [{"id": 1, "parent": 0, "author_name": "Ada", "date_gmt": "2023-01-01T00:00:00",
                          "content": {"rendered": '<p><a href="https://kept.example.org/">kept</a></p>'}}], \
                {"X-WP-TotalPages": "9"}  # fmt: skip
        return 429, {"code": "rate_limited"}, {"Retry-After": "3600"}

    _json_route(server, "/wp7/wp-json/wp/v2/comments", limited, seen)
    page = (f'<html><head><link rel="https://api.w.org/" href="{server.url("/wp7/wp-json/")}"></head>'
            '<body class="postid-5"><article><p>Text.</p></article></body></html>')
    collected = _harvest(config, tmp_path, page, server.url("/wp7/post/"))
    assert len(seen) == 2  # page 1, then page 2 answered 429: pages 3 to 9 were never asked for
    assert _comments(collected) == [(1, "Ada", "https://kept.example.org/")]
    assert any("429" in p.message for p in collected.problems)


def test_endpoint_requests_go_through_the_network_guard(server: TestServer, config: Config, tmp_path: Path) -> None:
    seen: list[str] = []
    page, url = _wordpress(server, "/wp4/", seen)
    guarded = replace(config, fetch=replace(config.fetch, allow_private_networks=False))
    collected = _harvest(guarded, tmp_path, page, url)
    assert seen == []  # refused before any connection
    assert any("private-network" in p.message for p in collected.problems)


def test_harvester_stores_comment_provenance(server: TestServer, config: Config, tmp_path: Path) -> None:
    page, _ = _wordpress(server, "/wp5/", [])
    url = server.route("/wp5/post/", page)

    async def go() -> None:
        async with Fetcher(config.fetch, temp_dir=tmp_path / "tmp") as fetcher:
            await Harvester(config, store, fetcher).url(url)

    store = Store(tmp_path / "archive.db")
    asyncio.run(go())
    rows = {row["url_as_written"]: row for row in store._rows("SELECT * FROM citations", [])}  # noqa: SLF001
    reply = rows["https://c.example.org/mirror"]
    assert (reply["comment"], reply["comment_parent"], reply["comment_kind"]) == (3, 2, "comment")
    assert reply["comment_permalink"].endswith("/wp5/#comment-15")
    assert rows["https://citing.example.net/2023/weekly/"]["comment_kind"] == "pingback"


# --- Discourse -------------------------------------------------------------------


def test_discourse_topic_all_posts(server: TestServer, config: Config, tmp_path: Path) -> None:
    def post(number: int) -> dict[str, Any]:
        cooked = f"<p>Reply {number}, see <a href=\"https://ref.example.org/{number}\">ref {number}</a></p>"
        if number == 1:
            cooked = "<p>The topic itself, linking <a href=\"https://topic.example.org/\">its subject</a>.</p>"
        return {"id": 1000 + number, "post_number": number, "username": f"user{number}", "name": f"User {number}",
                "created_at": f"2024-01-{number % 28 + 1:02d}T10:00:00.000Z", "cooked": cooked, "post_type": 1,
                "reply_to_post_number": {30: 2, 5: 40}.get(number)}  # fmt: skip  (5 answers a post loaded later)

    def topic(query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        return 200, {"id": 77, "slug": "link-rot", "post_stream": {
            "posts": [post(n) for n in range(1, 21)], "stream": [1000 + n for n in range(1, 46)]}}, {}

    def posts(query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        wanted = [int(i) - 1000 for i in query["post_ids[]"]]
        assert len(wanted) <= 20
        return 200, {"id": 77, "post_stream": {"posts": [post(n) for n in wanted]}}, {}

    _json_route(server, "/forum/t/77.json", topic)
    _json_route(server, "/forum/t/77/posts.json", posts)
    page = """<html><head><meta name="generator" content="Discourse 3.2.0 - https://github.com/discourse/discourse">
    <link rel="canonical" href="/forum/t/link-rot/77"></head><body><div id="main-outlet">
    <div class="topic-body crawler-post" id="post_1"><div class="post" itemprop="text">
    <p>The topic itself, linking <a href="https://topic.example.org/">its subject</a>.</p></div></div>
    </div></body></html>"""
    url = server.url("/forum/t/link-rot/77")
    collected = _harvest(config, tmp_path, page, url)
    comments = [link for link in collected.links if link.where == "comment"]
    order = [2, 30, 3, 4, *range(6, 30), *range(31, 40), 40, 5, *range(41, 46)]
    assert [link.url for link in comments] == [f"https://ref.example.org/{n}" for n in order]
    nested = next(link for link in comments if link.url.endswith("/30"))
    assert (nested.comment, nested.comment_parent, nested.comment_author) == (2, 1, "User 30")
    assert nested.comment_permalink == server.url("/forum/t/link-rot/77/30")
    assert "https://topic.example.org/" in {link.url for link in collected.links if link.where == "body"}


# --- Reddit --------------------------------------------------------------------------


def _t1(cid: str, parent: str, body: str, replies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"kind": "t1", "data": {
        "id": cid, "name": f"t1_{cid}", "parent_id": parent, "author": f"u_{cid}", "created_utc": 1700000000 + len(cid),
        "body": body, "body_html": f"<div class=\"md\"><p>{body}</p></div>", "permalink": f"/r/test/comments/abc123/t/{cid}/",
        "replies": {"kind": "Listing", "data": {"children": replies}} if replies else ""}}  # fmt: skip


def test_reddit_thread_with_collapsed_more_children(server: TestServer, config: Config, tmp_path: Path) -> None:
    seen: list[str] = []

    def thread(query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        post = {"kind": "t3", "data": {"id": "abc123", "name": "t3_abc123", "author": "op", "is_self": False,
                                       "url": "https://news.example.com/story", "selftext_html": None,
                                       "created_utc": 1700000000, "permalink": "/r/test/comments/abc123/t/"}}  # fmt: skip
        comments = [
            _t1("c1", "t3_abc123", "Source: <a href=\"https://one.example.org/\">one</a>", [
                _t1("c2", "t1_c1", "<a href=\"https://two.example.org/\">two</a>"),
                {"kind": "more", "data": {"count": 1, "parent_id": "t1_c1", "children": ["c4"]}},
            ]),
            {"kind": "more", "data": {"count": 2, "parent_id": "t3_abc123", "children": ["c3", "c5"]}},
        ]
        return 200, [{"kind": "Listing", "data": {"children": [post]}},
                     {"kind": "Listing", "data": {"children": comments}}], {}  # fmt: skip

    def more(query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        assert query["link_id"] == ["t3_abc123"] and query["api_type"] == ["json"]
        children = query["children"][0].split(",")
        things = {
            "c3": _t1("c3", "t3_abc123", "<a href=\"https://three.example.org/\">three</a>"),
            "c4": _t1("c4", "t1_c1", "<a href=\"https://four.example.org/\">four</a>"),
            "c5": _t1("c5", "t1_c3", "<a href=\"https://five.example.org/\">five</a>"),
        }
        return 200, {"json": {"errors": [], "data": {"things": [things[c] for c in children]}}}, {}

    _json_route(server, "/r/test/comments/abc123.json", thread, seen)
    _json_route(server, "/api/morechildren.json", more, seen)
    page = '<html><head><meta property="og:site_name" content="Reddit"></head><body><shreddit-app></shreddit-app></body></html>'
    collected = _harvest(config, tmp_path, page, server.url("/r/test/comments/abc123/a_story/"))
    assert [(c, url) for c, _, url in _comments(collected)] == [
        (1, "https://one.example.org/"), (2, "https://two.example.org/"), (3, "https://four.example.org/"),
        (4, "https://three.example.org/"), (5, "https://five.example.org/"),
    ]
    assert "https://news.example.com/story" in {link.url for link in collected.links if link.where == "body"}
    five = next(link for link in collected.links if link.url == "https://five.example.org/")
    assert (five.comment_parent, five.comment_author) == (4, "u_c5")
    assert five.comment_permalink == server.url("/r/test/comments/abc123/t/c5/")
    assert len(seen) == 2  # one thread request, one morechildren request for all collapsed ids


# --- Hacker News ---------------------------------------------------------------------


def test_hacker_news_whole_tree(server: TestServer, config: Config, tmp_path: Path) -> None:
    items: dict[int, dict[str, Any]] = {
        8863: {"by": "dhouston", "id": 8863, "kids": [9224, 8917], "time": 1175714200, "type": "story",
               "title": "My YC app", "url": "https://dropbox.example.com/"},
        9224: {"by": "BrandonM", "id": 9224, "kids": [9272], "parent": 8863, "time": 1175714400, "type": "comment",
               "text": "Compare <a href=\"https:&#x2F;&#x2F;rsync.example.org&#x2F;\" rel=\"nofollow\">rsync</a>."},
        9272: {"by": "dhouston", "id": 9272, "parent": 9224, "time": 1175714500, "type": "comment",
               "text": "Details: https:&#x2F;&#x2F;faq.example.com&#x2F;sync"},
        8917: {"id": 8917, "deleted": True, "parent": 8863, "kids": [8950], "time": 1175714300, "type": "comment"},
        8950: {"by": "someone", "id": 8950, "parent": 8917, "time": 1175714350, "type": "comment",
               "text": "<a href=\"https://orphan.example.net/\">still here</a>"},
    }  # fmt: skip
    for item_id, item in items.items():
        _json_route(server, f"/hn/v0/item/{item_id}.json", lambda q, item=item: (200, item, {}))
    page = """<html><body><center><table id="hnmain"><tr><td><table class="fatitem">
    <tr class="athing submission" id="8863"><td class="title"><span class="titleline">
    <a href="https://dropbox.example.com/">My YC app</a></span></td></tr></table></td></tr></table></center></body></html>"""
    apis = APIs(hackernews=server.url("/hn/v0/"))
    collected = _harvest(config, tmp_path, page, server.url("/item?id=8863"), apis)
    assert _comments(collected) == [
        (1, "BrandonM", "https://rsync.example.org/"),
        (2, "dhouston", "https://faq.example.com/sync"),
        (3, "someone", "https://orphan.example.net/"),
    ]
    faq = next(link for link in collected.links if link.url == "https://faq.example.com/sync")
    assert (faq.comment_parent, faq.comment_permalink) == (1, "https://news.ycombinator.com/item?id=9272")
    assert faq.comment_date == "2007-04-04T19:21:40Z"


# --- Mastodon ------------------------------------------------------------------------


def test_mastodon_status_context(server: TestServer, config: Config, tmp_path: Path) -> None:
    def status(sid: str, reply_to: str | None, content: str, acct: str) -> dict[str, Any]:
        return {"id": sid, "in_reply_to_id": reply_to, "created_at": "2024-03-01T12:00:00.000Z",
                "url": server.url(f"/@{acct}/{sid}"), "content": content,
                "account": {"acct": acct, "username": acct, "display_name": acct.title()}, "card": None}  # fmt: skip

    root = status("109", None, '<p>New study: <a href="https://study.example.org/paper" rel="nofollow">paper</a></p>', "alice")
    _json_route(server, "/api/v1/statuses/109", lambda q: (200, root, {}))
    _json_route(server, "/api/v1/statuses/109/context", lambda q: (200, {"ancestors": [], "descendants": [
        status("110", "109", '<p><span class="h-card"><a href="https://masto.example/@alice" class="u-url mention">'
                             '@<span>alice</span></a></span> the data is at <a href="https://data.example.org/x">data</a> '
                             '<a href="https://masto.example/tags/openscience" class="mention hashtag" rel="tag">'
                             '#<span>openscience</span></a></p>', "bob"),
        status("111", "110", '<p>Preprint: <a href="https://arxiv.example.org/abs/1">arXiv</a></p>', "carol"),
    ]}, {}))  # fmt: skip
    page = f"""<html><head><link href="{server.url('/users/alice/statuses/109')}" rel="alternate"
    type="application/activity+json"></head><body><div id="mastodon"></div></body></html>"""
    collected = _harvest(config, tmp_path, page, server.url("/@alice/109"))
    assert _comments(collected) == [(1, "Bob", "https://data.example.org/x"), (2, "Carol", "https://arxiv.example.org/abs/1")]
    assert [link.url for link in collected.links if link.where == "body"] == ["https://study.example.org/paper"]
    assert next(link for link in collected.links if link.comment == 2).comment_parent == 1


# --- Bluesky -------------------------------------------------------------------------


def test_bluesky_post_thread(server: TestServer, config: Config, tmp_path: Path) -> None:
    def view(rkey: str, handle: str, text: str, links: list[str], replies: list[Any]) -> dict[str, Any]:
        facets = [{"index": {"byteStart": 0, "byteEnd": 5},
                   "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}]} for uri in links]
        return {"$type": "app.bsky.feed.defs#threadViewPost", "post": {
            "uri": f"at://did:plc:{handle}/app.bsky.feed.post/{rkey}", "cid": "bafy",
            "author": {"did": f"did:plc:{handle}", "handle": f"{handle}.bsky.social", "displayName": handle.title()},
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2024-05-01T08:00:00.000Z",
                       "facets": facets}, "indexedAt": "2024-05-01T08:00:01.000Z"}, "replies": replies}  # fmt: skip

    thread = view("3kroot", "alice", "study.example.org/paper… worth reading", ["https://study.example.org/paper"], [
        view("3kr1", "bob", "data: data.example.org/x", ["https://data.example.org/x"], [
            view("3kr2", "carol", "and code.example.org", ["https://code.example.org/repo"], []),
        ]),
        {"$type": "app.bsky.feed.defs#blockedPost", "uri": "at://did:plc:x/app.bsky.feed.post/3kb", "blocked": True},
        view("3kr3", "dan", "no links here", [], []),
    ])  # fmt: skip
    uri = "at://did:plc:alice/app.bsky.feed.post/3kroot"

    def answer(query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        assert query["uri"] == [uri]
        return 200, {"thread": thread}, {}

    _json_route(server, "/xrpc/app.bsky.feed.getPostThread", answer)
    page = f'<html><head><link rel="alternate" href="{uri}"></head><body><div id="root"></div></body></html>'
    collected = _harvest(config, tmp_path, page, server.url("/profile/alice.bsky.social/post/3kroot"),
                         APIs(bluesky=server.url("/xrpc/")))
    assert _comments(collected) == [(1, "Bob", "https://data.example.org/x"), (2, "Carol", "https://code.example.org/repo")]
    assert "https://study.example.org/paper" in {link.url for link in collected.links if link.where == "body"}
    carol = next(link for link in collected.links if link.comment == 2)
    assert (carol.comment_parent, carol.comment_permalink) == (1, "https://bsky.app/profile/carol.bsky.social/post/3kr2")


# --- Disqus --------------------------------------------------------------------------

DISQUS_PAGE = """<html><head><link rel="canonical" href="https://news.example.com/2024/story"></head><body>
<article><p>The story, long enough to be an article, about something that matters to many readers.</p></article>
<div id="disqus_thread"></div><script>var disqus_config = function () { this.page.url = 'https://news.example.com/2024/story';
this.page.identifier = 'story-4242'; }; var disqus_shortname = 'examplenews';
(function() { var d = document, s = d.createElement('script'); s.src = 'https://examplenews.disqus.com/embed.js';
(d.head || d.body).appendChild(s); })();</script></body></html>"""


def test_disqus_without_a_key_says_so(config: Config, tmp_path: Path) -> None:
    collected = _harvest(config, tmp_path, DISQUS_PAGE, "https://news.example.com/2024/story")  # nothing is fetched
    assert any("Disqus" in p.message and "disqus_api_key" in p.message for p in collected.problems)
    assert not _comments(collected)


def test_disqus_with_a_key_all_pages(server: TestServer, config: Config, tmp_path: Path) -> None:
    def posts(query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        assert query["api_key"] == ["PUBLICKEY"] and query["forum"] == ["examplenews"]
        assert query["thread"] == ["ident:story-4242"]
        second = query.get("cursor") == ["1:1:0"]
        items = [{"id": "702", "parent": 701, "author": {"name": "Zoe", "username": "zoe"},
                  "createdAt": "2024-02-02T10:00:00", "message": "<p><a href=\"https://disq.us/url?url=https%3A%2F%2Fzoe.example.org%2Fsource%3A3hd&amp;cuid=1\">zoe.example.org/source</a></p>",
                  "isDeleted": False}] if second else [
                 {"id": "701", "parent": None, "author": {"name": "Yan", "username": "yan"},
                  "createdAt": "2024-02-01T09:00:00", "message": "<p>Primary: <a href=\"https://yan.example.org/doc\">doc</a></p>",
                  "isDeleted": False}]  # fmt: skip
        cursor = {"hasNext": not second, "next": "1:1:0", "hasPrev": second, "prev": None, "more": not second}
        return 200, {"code": 0, "cursor": cursor, "response": items}, {}

    _json_route(server, "/disqus/api/3.0/threads/listPosts.json", posts)
    apis = APIs(disqus=server.url("/disqus/api/3.0/"), disqus_api_key="PUBLICKEY")
    collected = _harvest(config, tmp_path, DISQUS_PAGE, "https://news.example.com/2024/story", apis)
    assert _comments(collected) == [(1, "Yan", "https://yan.example.org/doc"), (2, "Zoe", "https://zoe.example.org/source")]
    zoe = next(link for link in collected.links if link.comment == 2)
    assert (zoe.comment_parent, zoe.comment_date) == (1, "2024-02-02T10:00:00Z")
    assert zoe.comment_permalink == "https://news.example.com/2024/story#comment-702"


def test_a_failing_disqus_request_does_not_show_the_key(server: TestServer, config: Config, tmp_path: Path) -> None:
    apis = APIs(disqus=server.url("/disqus-gone/api/3.0/"), disqus_api_key="SECRETKEY")
    collected = _harvest(config, tmp_path, DISQUS_PAGE, "https://news.example.com/2024/story", apis)
    messages = " ".join(p.message for p in collected.problems)
    assert "404" in messages and "SECRETKEY" not in messages


# --- thread order ----------------------------------------------------------------------


def test_thread_order_puts_replies_after_their_parent_whatever_the_arrival_order() -> None:
    def c(cid: str, parent: str | None) -> EndpointComment:
        return EndpointComment(cid, parent, None, None, None, html=f'<a href="https://x.example/{cid}">{cid}</a>')

    arrived = [c("a", None), c("b", None), c("c", "a"), c("d", "c"), c("e", "zz"), c("a", None)]  # dup, unknown parent
    assert [(x.id, parent) for x, parent in thread_order(arrived)] == [
        ("a", None), ("c", 1), ("d", 2), ("b", None), ("e", None)]
    links = thread_links(arrived, "https://page.example/")
    assert [(link.comment, link.url) for link in links] == [
        (1, "https://x.example/a"), (2, "https://x.example/c"), (3, "https://x.example/d"),
        (4, "https://x.example/b"), (5, "https://x.example/e")]


# --- untrusted answers ------------------------------------------------------------------

_KEYS = st.sampled_from(["id", "parent", "post_stream", "posts", "stream", "post_number", "kind", "data", "children",
                         "replies", "thread", "post", "record", "facets", "features", "uri", "descendants", "json",
                         "things", "cursor", "response", "content", "rendered", "cooked", "text", "kids", "name",
                         "parent_id", "author", "$type", "body_html", "created_utc", "time", "next", "hasNext"])  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**12) | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=30,
)
_THREADS = [
    WordPressThread("https://wp.example/wp-json/", "1"), DiscourseThread("https://d.example", "", "7", "s"),
    RedditThread("https://www.reddit.com", "/r/a/comments/x", "x"), HackerNewsThread("https://hn.example/v0/", "1"),
    MastodonThread("https://m.example", "1"), BlueskyThread("https://b.example/xrpc/", "at://did:plc:a/app.bsky.feed.post/r"),
    DisqusThread("https://q.example/api/3.0/", "k", "f", None, "https://n.example/a"),
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(data=_JSON, which=st.integers(0, len(_THREADS) - 1), context=st.sampled_from(["", "/context", "/posts.json",
                                                                                       "/api/morechildren"]))
def test_endpoint_readers_never_raise_on_strange_json(data: Any, which: int, context: str) -> None:
    thread = _THREADS[which]
    step = thread.read(f"https://x.example/a{context}?page=1", data, {"x-wp-totalpages": "nan"})
    thread_links(step.comments, "https://page.example/")  # and whatever came back can be turned into links



_MARKUP = st.lists(st.sampled_from([
    '<link rel="https://api.w.org/" href="', '/wp-json/">', '<link rel="shortlink" href="?p=', '12">',
    '<meta name="generator" content="Discourse">', '<link rel="canonical" href="/t/x/', '<link rel="alternate" href="at://',
    'did:plc:x/app.bsky.feed.post/', '<link rel="alternate" type="application/activity+json" href="/users/a/statuses/',
    '<table class="fatitem"><tr class="athing" id="', '<script>var disqus_shortname = "', '";</script>', '"', "'",
    "<", ">", "\x00", "9", "\u202e", "javascript:", "http://[::1", "%zz",
]), max_size=25).map("".join)


@settings(max_examples=200, deadline=None)
@given(markup=_MARKUP, url=st.sampled_from(["https://a.example/t/x/9", "http://[bad", "https://www.reddit.com/r/a/comments/b1/",
                                            "https://news.ycombinator.com/item?id=x", ""]))
def test_discovery_never_raises_on_strange_pages(markup: str, url: str) -> None:
    from archiver.collect.endpoints import discover

    thread = discover("<html><head>" + markup + "</head><body>disqus reddit</body></html>", url, APIs(disqus_api_key="k"))
    if thread is not None:
        thread.start()


def test_wordpress_discovery_without_pretty_permalinks() -> None:
    from archiver.collect.endpoints import discover

    page = """<html><head><link rel="https://api.w.org/" href="https://blog.example.org/index.php?rest_route=/">
    <link rel="shortlink" href="https://blog.example.org/?p=77"></head><body><article><p>Post.</p></article>
    <form id="commentform"><input type="hidden" name="comment_post_ID" value="77"></form></body></html>"""
    thread = discover(page, "https://blog.example.org/?p=77")
    assert thread is not None and thread.platform == "WordPress"
    first = urlsplit(thread.start()[0])
    query = parse_qs(first.query)
    assert (first.netloc, first.path, query["rest_route"], query["post"], query["page"]) == (
        "blog.example.org", "/index.php", ["/wp/v2/comments"], ["77"], ["1"])
    assert discover(page, "https://mirror.example.net/saved.html") is None  # another host's API is not asked
