"""Comment platforms read through their public endpoints (pure: no network).

On most news sites the comments are not in the HTML: a script loads them
from a comment platform. ``discover`` looks at an article page the way the
platform's own script does and returns a ``Thread``: a small state machine
that names the endpoint URLs to fetch (``start``) and turns each JSON answer
into comments and further URLs (``read``: the next page, collapsed replies,
the children of a reply). The caller (``archiver.collect.threads``) fetches through
the fetcher, with its network guard and politeness, and stops at the
per-article cap ``[collect] max_comments``.

Platforms (one module each):

    wordpress   <link rel="https://api.w.org/"> + the post id -> /wp/v2/comments?post=ID, every page
    discourse   a Discourse topic page -> /t/ID.json, then the rest of post_stream.stream
    reddit      a Reddit thread -> its .json, then /api/morechildren for collapsed replies
    hackernews  a Hacker News item -> the Firebase item API, the whole tree
    mastodon    a status page (activity+json alternate) -> /api/v1/statuses/ID and /context
    bluesky     a post page (at:// alternate) -> the public AppView's getPostThread
    disqus      the forum shortname on the page + [collect] disqus_api_key -> threads/listPosts

``thread_links`` numbers the comments in thread order (depth first, replies
after their parent) and turns them into ``RawLink``s with full provenance:
number, author, date, permalink, parent, kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree
from lxml.html import HtmlElement, HTMLParser, document_fromstring

from .base import EndpointComment, Step, Thread, thread_links
from .bluesky import discover_bluesky
from .discourse import discover_discourse
from .disqus import discover_disqus
from .hackernews import discover_hackernews
from .mastodon import discover_mastodon
from .reddit import discover_reddit
from .wordpress import discover_wordpress

__all__ = ["APIs", "EndpointComment", "Step", "Thread", "discover", "thread_links"]


@dataclass(frozen=True)
class APIs:
    """Where the platforms without a per-site endpoint answer (tests point them at a local server)."""

    hackernews: str = "https://hacker-news.firebaseio.com/v0/"
    bluesky: str = "https://public.api.bsky.app/xrpc/"
    disqus: str = "https://disqus.com/api/3.0/"
    disqus_api_key: str = ""


# Cheap tests on the raw page before it is parsed: a page that mentions none
# of these has no platform to ask.
_HINTS = re.compile(
    r"api\.w\.org|disqus|discourse|reddit|ycombinator|fatitem|activity\+json|at://|comment_post_ID", re.I
)


def discover(html: str, page_url: str, apis: APIs | None = None) -> Thread | None:
    """The comment thread an article page loads from a platform, if any."""
    apis = apis or APIs()
    if not _HINTS.search(html[:2_000_000]):
        return None
    root = _parse(html)
    if root is None:
        return None
    for find in (
        lambda: discover_disqus(root, page_url, apis.disqus, apis.disqus_api_key),
        lambda: discover_discourse(root, page_url),
        lambda: discover_reddit(root, page_url),
        lambda: discover_hackernews(root, page_url, apis.hackernews),
        lambda: discover_mastodon(root, page_url),
        lambda: discover_bluesky(root, page_url, apis.bluesky),
        lambda: discover_wordpress(root, page_url),
    ):
        try:
            thread = find()
        except ValueError:  # a URL urllib cannot split (a malformed IPv6 host ...): not this platform
            continue
        if thread is not None:
            return thread
    return None


def _parse(html: str) -> HtmlElement | None:
    try:
        return document_fromstring(html, parser=HTMLParser(recover=True, no_network=True))
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None
