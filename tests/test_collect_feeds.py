"""Feeds and sitemaps list articles; exclude patterns (issue 3)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from archiver.collect import FeedEntry, is_excluded, parse_feed
from archiver.errors import UsageError

FEEDS = Path(__file__).resolve().parent / "data" / "corpus" / "feeds"


def test_json_feed_from_the_corpus() -> None:
    entries = parse_feed((FEEDS / "feed.json").read_bytes(), "https://feeds.npr.org/1019/feed.json")
    assert len(entries) == 25
    first = entries[0]
    assert first.url == (
        "https://www.npr.org/2021/10/29/1050315385/keller-rinaudo-how-can-delivery-drones-save-lives"
        "?utm_medium=JSONFeed&utm_campaign=technology"
    )
    assert first.title == "Keller Rinaudo: How can delivery drones save lives?"
    assert first.content_html is not None and first.content_html.startswith("<p>In rural areas")
    assert not any(entry.is_sitemap_index for entry in entries)
    assert len({entry.url for entry in entries}) == 25


def test_atom_feed_entry_without_alternate_link_names_no_page() -> None:
    # the second entry only has rel="self" (its Atom document), not a page
    entries = parse_feed((FEEDS / "feed1.atom").read_bytes(), "http://example.org/feed.atom")
    assert entries == [FeedEntry("http://example.org/2003/12/13/atom03", "Atom-Powered Robots Run Amok", "Some text.")]


def test_rss_feed() -> None:
    entries = parse_feed((FEEDS / "feed2.rss").read_bytes(), "http://www.example.com/feed.rss")
    assert entries == [
        FeedEntry(
            "http://www.example.com/blog/post/1",
            "Example entry",
            "Here is some text containing an interesting description.",
        )
    ]


def test_sitemap_urlset() -> None:
    entries = parse_feed((FEEDS / "sitemap.xml").read_bytes(), "https://www.sitemaps.org/sitemap.xml")
    assert len(entries) == 84
    assert entries[0] == FeedEntry("https://www.sitemaps.org/", None, None)
    assert entries[-1].url == "https://www.sitemaps.org/zh_TW/terms.html"
    assert all(not e.is_sitemap_index and e.url.startswith("https://www.sitemaps.org/") for e in entries)


def test_sitemap_index_and_gzip() -> None:
    index = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<sitemap><loc>https://example.com/sitemap-posts.xml.gz</loc></sitemap>"
        b"<sitemap><loc> /sitemap-pages.xml </loc><lastmod>2024-01-01</lastmod></sitemap>"
        b"</sitemapindex>"
    )
    expected = [
        FeedEntry("https://example.com/sitemap-posts.xml.gz", None, None, is_sitemap_index=True),
        FeedEntry("https://example.com/sitemap-pages.xml", None, None, is_sitemap_index=True),
    ]
    assert parse_feed(index, "https://example.com/sitemap.xml") == expected
    assert parse_feed(gzip.compress(index), "https://example.com/sitemap.xml.gz") == expected


def test_atom_relative_links_content_and_duplicates() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><id>urn:x</id><updated>2024-01-01T00:00:00Z</updated>
<entry><title>One</title><id>urn:1</id><updated>2024-01-01T00:00:00Z</updated>
  <link rel="alternate" type="text/html" href="/posts/one"/><link rel="replies" href="/posts/one/comments"/>
  <content type="html">&lt;p&gt;See &lt;a href="https://cited.example.org/"&gt;this&lt;/a&gt;&lt;/p&gt;</content></entry>
<entry><title>One again</title><id>urn:2</id><updated>2024-01-01T00:00:00Z</updated><link href="https://blog.example.com/posts/one"/></entry>
</feed>"""
    entries = parse_feed(atom, "https://blog.example.com/feed.atom")
    assert [e.url for e in entries] == ["https://blog.example.com/posts/one"]
    assert entries[0].content_html == '<p>See <a href="https://cited.example.org/">this</a></p>'


def test_json_feed_with_text_content_and_external_url() -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Links",
        "items": [
            {"id": "1", "external_url": "https://cited.example.org/a", "content_text": "a <b> & c"},
            {"id": "2", "url": "/posts/2", "title": "Two", "content_html": "<p>x</p>"},
            {"id": "3", "title": "no url"},
            "not an item",
        ],
    }
    entries = parse_feed(json.dumps(feed).encode(), "https://links.example.org/feed.json")
    assert entries == [
        FeedEntry("https://cited.example.org/a", None, "<p>a &lt;b&gt; &amp; c</p>"),
        FeedEntry("https://links.example.org/posts/2", "Two", "<p>x</p>"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>Not a feed</body></html>", "not an RSS/Atom/JSON feed or sitemap"),
        (b"{not json", "invalid JSON"),
        (b'{"items": []}', "not a JSON Feed"),
        (b"\x1f\x8bnot really gzip", "corrupt gzip"),
        (b"", "not an RSS/Atom/JSON feed or sitemap"),
    ],
)
def test_not_a_feed_is_a_usage_error_naming_the_url(data: bytes, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        parse_feed(data, "https://x.example/feed")
    assert "https://x.example/feed" in str(caught.value)


def test_xml_entities_are_not_expanded() -> None:
    bomb = b"""<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://x.example/&b;</loc></url></urlset>"""
    entries = parse_feed(bomb, "https://x.example/sitemap.xml")
    assert all(len(e.url) < 100 for e in entries)


# ------------------------------------------------------------ [collect] exclude


def test_is_excluded_searches_written_and_normalized_urls() -> None:
    patterns = [r"^https?://(www\.)?facebook\.com/", r"ads\.example\.net", r"\?utm_source="]
    assert is_excluded("https://www.facebook.com/somepage", patterns)
    assert is_excluded("HTTPS://ADS.example.net/x", patterns)  # normalized form matches
    assert is_excluded("https://x.org/?utm_source=feed", patterns)  # written form matches
    assert not is_excluded("https://example.org/facebook.com/", patterns)
    assert not is_excluded("https://example.org/", [])


def test_invalid_exclude_pattern_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"\[collect\] exclude.*'\(unclosed'"):
        is_excluded("https://x.org/", ["(unclosed"])
