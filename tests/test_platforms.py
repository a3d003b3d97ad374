"""Platform posts checked through their public endpoints (SPEC §5, archiver.check.platforms).

A local server plays the post's page (the same script shell for every path,
whether the post exists or not, as X and YouTube do) and another plays the
platform's endpoint, answering as its documentation says for alive, deleted
and private posts. The provider table's endpoint is pointed at the local server
through ``[platforms] providers`` (same name: it replaces the built-in entry).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.archive import Archive
from archiver.config import Config, PlatformsConfig, RenderConfig
from archiver.check.platforms import Answer, discover, endpoint_for, load_providers, read_answer

from .server import Route, respond
from .test_check import check, snap, world  # noqa: F401  (world: a fixture)

SHELL = (b"<!DOCTYPE html><html><head><title>X</title><script src='/main.js'></script></head>"
         b"<body><div id='react-root'></div><noscript>JavaScript is not available.</noscript></body></html>")


class Endpoint:
    """A platform endpoint whose answer a test sets: (status, JSON value or raw bytes)."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = {}
        self.requests: list[str] = []

    def __call__(self, req: Any) -> None:
        self.requests.append(req.path)
        body = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        respond(req, self.status, body, content_type="application/json")


def platform_world(world: Config, make_server: Any, kind: str, page_path: str,
                   endpoint_path: str) -> tuple[Config, str, Endpoint]:
    site, api = make_server(), make_server()
    endpoint = Endpoint()
    api.routes[endpoint_path.split("?")[0]] = Route(handler=endpoint)
    site.routes["*"] = Route(body=SHELL)  # the shell answers every path, alive or not
    provider = {"name": {"oembed": "X/Twitter", "mastodon": "Mastodon", "bluesky": "Bluesky",
                         "reddit": "Reddit"}[kind],
                "kind": kind, "url_patterns": [f"re:^{re.escape(site.base)}/"],
                "endpoint": api.base + endpoint_path}
    config = replace(world, platforms=PlatformsConfig(providers=(provider,)))
    return config, site.url(page_path), endpoint


def tweet(text: str, author: str = "Jack") -> dict[str, Any]:
    return {"url": "https://twitter.com/jack/status/20", "author_name": author, "type": "rich", "version": "1.0",
            "provider_name": "Twitter", "cache_age": "3153600000", "width": 550, "height": None,
            "html": f"<blockquote class=\"twitter-tweet\"><p lang=\"en\" dir=\"ltr\">{text}</p>&mdash; {author} "
                    "(@jack) <a href=\"https://twitter.com/jack/status/20\">March 21, 2006</a></blockquote>\n"}


TEXT = "just setting up my twttr account and telling everyone about the new service we are building here today"


def test_deleted_post_is_removed_then_dead_though_the_page_still_answers_200(world: Config, make_server) -> None:
    config, url, endpoint = platform_world(world, make_server, "oembed", "/jack/status/20", "/oembed?url={url}")
    endpoint.body = tweet(TEXT)
    snap(config, url)
    assert endpoint.requests, "the endpoint is asked at capture: its answer is the cited one"
    assert check(config, url)[("reason")] == "unchanged"
    endpoint.status, endpoint.body = 404, b"Not Found"  # oEmbed: no response for the requested URL
    results = [check(config, url) for _ in range(3)]
    assert [(r["verdict"], r["reason"]) for r in results] == [("failed", "removed")] * 3
    assert [r["state"] for r in results] == ["failing", "failing", "dead"]


def test_protected_post_is_blocked_private(world: Config, make_server) -> None:
    config, url, endpoint = platform_world(world, make_server, "oembed", "/jack/status/21", "/oembed?url={url}")
    endpoint.body = tweet(TEXT)
    snap(config, url)
    endpoint.status, endpoint.body = 403, {"error": "forbidden"}  # X: protected or suspended account
    result = check(config, url)
    assert (result["verdict"], result["reason"], result["state"]) == ("blocked", "private", "blocked")


def test_youtube_private_video_answering_200_forbidden_is_private(world: Config, make_server) -> None:
    config, url, endpoint = platform_world(world, make_server, "oembed", "/watch/abc", "/oembed?format=json&url={url}")
    endpoint.body = {"title": "Rick Astley - Never Gonna Give You Up", "author_name": "Rick Astley",
                     "type": "video", "html": "<iframe src='https://www.youtube.com/embed/abc'></iframe>"}
    snap(config, url)
    endpoint.body = b"Forbidden"
    result = check(config, url)
    assert (result["reason"], result["state"]) == ("private", "blocked")


def test_edited_post_is_changed_and_replaced_video_is_title_changed(world: Config, make_server) -> None:
    config, url, endpoint = platform_world(world, make_server, "oembed", "/jack/status/22", "/oembed?url={url}")
    endpoint.body = tweet(TEXT)
    snap(config, url)
    endpoint.body = tweet("we never said any of this; the account now promotes a cryptocurrency giveaway scheme")
    result = check(config, url)
    assert (result["verdict"], result["reason"], result["state"]) == ("changed", "drift", "changed")

    config, url, endpoint = platform_world(world, make_server, "oembed", "/watch/xyz", "/oembed?url={url}")
    endpoint.body = {"title": "Interview with the minister, full version", "author_name": "News Channel",
                     "type": "video", "html": "<iframe></iframe>"}
    snap(config, url)
    endpoint.body = {"title": "Top 10 funniest cat videos", "author_name": "News Channel", "type": "video",
                     "html": "<iframe></iframe>"}
    result = check(config, url)
    assert (result["verdict"], result["reason"]) == ("changed", "title-changed")


def test_endpoint_answers_are_stored_in_the_warcs_as_response_records(world: Config, make_server) -> None:
    config, url, endpoint = platform_world(world, make_server, "oembed", "/jack/status/23", "/oembed?url={url}")
    endpoint.body = tweet(TEXT)
    snap(config, url)
    endpoint.status, endpoint.body = 404, b"Not Found"
    check(config, url)
    answers = []
    for path in sorted((config.archive.dir / "warcs").glob("*.warc.gz*")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                target = record.rec_headers.get_header("WARC-Target-URI") or ""
                if record.rec_type == "response" and "/oembed" in target:
                    answers.append((record.http_headers.get_statuscode(), record.content_stream().read()))
    assert [status for status, _ in answers] == ["200", "404"]
    assert TEXT.encode() in answers[0][1]


def test_mastodon_status_deleted_on_any_instance(world: Config, make_server) -> None:
    config, url, endpoint = platform_world(world, make_server, "mastodon", "/@Gargron/109318844211543117",
                                           "/api/v1/statuses/109318844211543117")
    endpoint.body = {"id": "109318844211543117", "content": f"<p>{TEXT}</p>", "spoiler_text": "",
                     "account": {"acct": "Gargron"}, "edited_at": None}
    snap(config, url)
    assert check(config, url)["verdict"] == "ok"
    endpoint.status, endpoint.body = 404, {"error": "Record not found"}
    assert (check(config, url)["reason"]) == "removed"


def test_bluesky_post_not_found_and_blocked(world: Config, make_server) -> None:
    config, url, endpoint = platform_world(world, make_server, "bluesky", "/profile/alice.bsky.social/post/3k2a",
                                           "/xrpc/app.bsky.feed.getPostThread?uri=x")
    endpoint.body = {"thread": {"$type": "app.bsky.feed.defs#threadViewPost", "post": {
        "uri": "at://did:plc:abc/app.bsky.feed.post/3k2a", "author": {"handle": "alice.bsky.social"},
        "record": {"$type": "app.bsky.feed.post", "text": TEXT}}}}
    snap(config, url)
    assert check(config, url)["verdict"] == "ok"
    endpoint.body = {"thread": {"$type": "app.bsky.feed.defs#blockedPost", "uri": "at://x", "blocked": True,
                                "author": {"did": "did:plc:abc"}}}
    assert (check(config, url)["reason"], check(config, url)["state"]) == ("private", "blocked")
    endpoint.status, endpoint.body = 400, {"error": "NotFound", "message": "Post not found: at://x"}
    assert check(config, url)["reason"] == "removed"


def reddit_listing(title: str, selftext: str, **extra: Any) -> list[dict[str, Any]]:
    post = {"title": title, "selftext": selftext, "author": "someone", "removed_by_category": None, **extra}
    return [{"kind": "Listing", "data": {"children": [{"kind": "t3", "data": post}]}},
            {"kind": "Listing", "data": {"children": []}}]


def test_reddit_post_removed_by_moderators_and_private_subreddit(world: Config, make_server) -> None:
    config, url, endpoint = platform_world(world, make_server, "reddit", "/r/python/comments/abc123/title/",
                                           "/comments/abc123/.json")
    endpoint.body = reddit_listing("Python 3.13 released", TEXT)
    snap(config, url)
    assert check(config, url)["verdict"] == "ok"
    endpoint.body = reddit_listing("Python 3.13 released", "[removed]", removed_by_category="moderator")
    assert check(config, url)["reason"] == "removed"
    endpoint.status, endpoint.body = 403, {"reason": "private", "message": "Forbidden", "error": 403}
    assert (check(config, url)["reason"], check(config, url)["state"]) == ("private", "blocked")


def test_oembed_discovery_on_a_script_shell(world: Config, make_server) -> None:
    site, api = make_server(), make_server()
    endpoint = Endpoint()
    endpoint.body = {"type": "video", "title": "A talk about archives", "author_name": "Conference"}
    api.routes["/oembed"] = Route(handler=endpoint)
    page = (f"<html><head><title>Video</title><link rel=\"alternate\" type=\"application/json+oembed\" "
            f"href=\"{api.base}/oembed?url=x&amp;format=json\"></head><body><div id=\"app\"></div>"
            f"<script src=\"/bundle.js\"></script></body></html>").encode()
    url = site.route("/videos/42", page)
    world = replace(world, render=RenderConfig(mode="never"))  # (rendering the shell is tested in test_render)
    snap(world, url)
    assert check(world, url)["verdict"] == "ok"
    assert endpoint.requests
    endpoint.status, endpoint.body = 404, b"Not Found"
    assert check(world, url)["reason"] == "removed"


def test_an_article_with_an_oembed_tag_is_judged_by_its_own_text(world: Config, make_server) -> None:
    from .test_check import ARTICLE

    site, api = make_server(), make_server()
    endpoint = Endpoint()
    api.routes["/wp-json/oembed"] = Route(handler=endpoint)
    tag = f'<link rel="alternate" type="application/json+oembed" href="{api.base}/wp-json/oembed?url=x">'
    url = site.route("/2016/12/article.html", ARTICLE.replace("</head>", tag + "</head>", 1))
    snap(world, url)
    assert check(world, url)["reason"] == "unchanged"
    assert endpoint.requests == []  # a WordPress article is not asked about: its text says more


def test_platforms_can_be_turned_off(world: Config, make_server) -> None:
    config, url, endpoint = platform_world(world, make_server, "oembed", "/jack/status/24", "/oembed?url={url}")
    config = replace(config, platforms=replace(config.platforms, enabled=False), render=RenderConfig(mode="never"))
    endpoint.body = tweet(TEXT)
    snap(config, url)
    endpoint.status = 404
    assert check(config, url)["verdict"] == "ok"
    assert endpoint.requests == []


@pytest.mark.parametrize(("url", "endpoint"), [
    ("https://x.com/jack/status/20", "https://publish.twitter.com/oembed?url=https%3A%2F%2Fx.com%2Fjack%2Fstatus%2F20"
     "&omit_script=1&dnt=true"),
    ("https://twitter.com/NASA/status/1234567890", "https://publish.twitter.com/oembed?url=https%3A%2F%2Ftwitter.com"
     "%2FNASA%2Fstatus%2F1234567890&omit_script=1&dnt=true"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://www.youtube.com/oembed?url=https%3A%2F%2Fwww.youtube.com"
     "%2Fwatch%3Fv%3DdQw4w9WgXcQ&format=json"),
    ("https://youtu.be/dQw4w9WgXcQ", "https://www.youtube.com/oembed?url=https%3A%2F%2Fyoutu.be%2FdQw4w9WgXcQ"
     "&format=json"),
    ("https://vimeo.com/76979871", "https://vimeo.com/api/oembed.json?url=https%3A%2F%2Fvimeo.com%2F76979871"),
    ("https://www.reddit.com/r/Python/comments/1b2c3d/some_title/", "https://www.reddit.com/comments/1b2c3d/.json"
     "?limit=1&raw_json=1"),
    ("https://mastodon.social/@Gargron/109318844211543117", "https://mastodon.social/api/v1/statuses/"
     "109318844211543117"),
    ("https://bsky.app/profile/alice.bsky.social/post/3kabc2xyz", "https://public.api.bsky.app/xrpc/"
     "app.bsky.feed.getPostThread?uri=at://alice.bsky.social/app.bsky.feed.post/3kabc2xyz&depth=0&parentHeight=0"),
    ("https://www.tiktok.com/@scout2015/video/6718335390845095173", "https://www.tiktok.com/oembed?url=https%3A%2F%2F"
     "www.tiktok.com%2F%40scout2015%2Fvideo%2F6718335390845095173"),
])
def test_the_provider_table_builds_each_platforms_endpoint(url: str, endpoint: str) -> None:
    found = endpoint_for(url, load_providers())
    assert found is not None and found[1] == endpoint


def test_articles_and_profiles_match_no_provider() -> None:
    providers = load_providers()
    for url in ("https://example.com/2021/05/article.html", "https://x.com/jack", "https://www.youtube.com/",
                "https://medium.com/@someone/a-story-about-things-1a2b3c", "https://mastodon.social/about"):
        assert endpoint_for(url, providers) is None, url


def test_read_answer_follows_the_documented_shapes() -> None:
    assert read_answer("oembed", 401, b"Unauthorized").status == "private"
    assert read_answer("oembed", 429, b"").status == "unknown"  # rate limited: says nothing about the post
    assert read_answer("oembed", 500, b"").status == "unknown"
    assert read_answer("mastodon", 200, json.dumps({"content": "<p>a<br>b</p>", "account": {"acct": "x"}}).encode()) \
        == Answer("alive", "x", "a b")
    assert read_answer("reddit", 404, b'{"reason": "banned"}').status == "removed"


def test_discover_reads_the_link_tag() -> None:
    html = '<head><link type="application/json+oembed" rel="alternate" href="/oembed?url=a&amp;format=xml"></head>'
    assert discover(html, "https://site.example/v/1") == "https://site.example/oembed?url=a&format=xml"
    assert discover('<link rel="alternate" type="application/rss+xml" href="/feed">', "https://a.example/") is None


def test_config_providers_add_a_platform(tmp_path: Path) -> None:
    extra = {"name": "PeerTube", "url_patterns": ["https://video.example.org/w/*"],
             "endpoint": "https://video.example.org/services/oembed?url={url}&format=json"}
    providers = load_providers([extra])
    found = endpoint_for("https://video.example.org/w/9c9de5e8", providers)
    assert found is not None and found[0].name == "PeerTube" and found[0].kind == "oembed"
    assert len(providers) == len(load_providers()) + 1


def test_endpoint_checks_go_through_the_network_guard(world: Config, make_server) -> None:
    config, url, endpoint = platform_world(world, make_server, "oembed", "/jack/status/25", "/oembed?url={url}")
    endpoint.body = tweet(TEXT)
    snap(config, url)
    guarded = replace(config, fetch=replace(config.fetch, allow_private_networks=False))
    with Archive(guarded) as archive:
        from archiver.capture.fetch import Fetcher
        from archiver.check.platforms import Platforms

        async def ask() -> Any:
            async with Fetcher(guarded.fetch, temp_dir=archive.temp_dir) as fetcher:
                platforms = Platforms(archive, fetcher)
                link = archive.store.link(url.lower()) or archive.store.links()[0]
                return await platforms.judge(link, "", None, 0.8)

        assert asyncio.run(ask()) is None  # the loopback endpoint is refused: no verdict from it
    assert len(endpoint.requests) == 1  # only the capture's request reached it


@pytest.mark.parametrize(("entry", "message"), [
    ('{ name = "Odd", kind = "graphql", url_patterns = ["https://odd.example/*"], endpoint = "https://odd.example/q" }',
     "provider 'Odd': kind must be one of oembed, reddit, mastodon, bluesky"),
    ('{ name = "Bad", url_patterns = ["re:https://bad.example/(unclosed"], endpoint = "https://bad.example/o" }',
     "provider 'Bad': bad pattern"),
])
def test_a_provider_the_checker_could_not_use_is_a_config_error(tmp_path: Path, entry: str, message: str) -> None:
    from archiver.config import load_config
    from archiver.errors import ConfigError

    path = tmp_path / "config.toml"
    path.write_text(f"[platforms]\nproviders = [{entry}]\n")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


def test_the_cli_reports_a_deleted_post_dead_removed_with_the_endpoint_answer_as_evidence(
        make_server: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from archiver.cli import cli

    site, api = make_server(), make_server()
    endpoint = Endpoint()
    endpoint.body = tweet(TEXT)
    api.routes["/oembed"] = Route(handler=endpoint)
    site.routes["*"] = Route(body=SHELL)
    url = site.url("/jack/status/20")
    pattern = f"re:^{re.escape(site.base)}/"
    config_path = tmp_path / "cli.toml"
    config_path.write_text(
        f'[archive]\ndir = "{tmp_path / "archive"}"\n[fetch]\nallow_private_networks = true\nper_host_delay = "0s"\n'
        'retries = 0\n[check]\nconfirm_checks = 1\nconfirm_span = "0s"\n[render]\nmode = "never"\n'
        '[external]\nlookup = false\nsubmit = false\n'
        f'[platforms]\nproviders = [{{ name = "X/Twitter", url_patterns = [{json.dumps(pattern)}], '
        f'endpoint = "{api.base}/oembed?url={{url}}" }}]\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config_path), "snapshot", url]).exit_code == 0
    endpoint.status, endpoint.body = 404, b"Not Found"
    result = runner.invoke(cli, ["--config", str(config_path), "check", url, "--fail-on", "dead"])
    assert result.exit_code == 3, result.output
    line = result.output.splitlines()[0]
    assert line.startswith("dead") and "failed: removed (the oEmbed endpoint answers 404" in line
    assert re.search(r"endpoint answer \S+/oembed\?url=\S+ \(404\) at warcs/ARCHIVER-\S+\.warc\.gz:\d+", line)
    history = runner.invoke(cli, ["--config", str(config_path), "links", url])
    assert "state: dead (removed)" in history.output
