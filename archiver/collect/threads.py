"""Reader comments loaded from a comment platform: fetched, capped, merged into the page's harvest.

``archiver.collect.endpoints`` finds the platform an article page uses and
knows its JSON; this module fetches the endpoint URLs it names, one after
another, through the fetcher (so the network guard, timeouts, body cap and
per-host politeness apply to every request; never a bare HTTP call), until
the thread is read or ``[collect] max_comments`` comments were, and merges
the result into the page's ``Collected``:

- when the platform answered, its comments replace the comment links found
  in the page's HTML (the same comments, complete and with ids; a page shows
  one page of them at most); pingbacks and trackbacks from the HTML, which
  platforms do not list, stay, numbered after the platform's comments;
- links of the thread's opening post (a Reddit, Mastodon, Bluesky or Hacker
  News post) are body links of the article;
- when the platform cannot be asked (no key) or does not answer, the page's
  own comments stay and a problem says why the platform's were not read;
  a platform that refuses (401, 403, 429, 503) midway is not asked again for
  that article: what was read is kept, with a note.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from . import Collected
from .endpoints import APIs, EndpointComment, Thread, discover, thread_links
from .endpoints.base import thread_order
from .decode import decode_document
from .model import COMMENT, RawLink
from ..capture.fetch import Fetcher
from ..check.pages import final_body

MAX_JSON = 20 << 20  # bytes of one endpoint answer read
EXTRA_REQUESTS = 50  # beyond one per comment: pages, "more" lists, the opening post
_SECRET_PARAMS = re.compile(r"^(?:api_key|key|token|access_token|api_secret)$", re.I)


@dataclass
class ThreadRead:
    """What reading a platform thread gave."""

    platform: str
    comments: list[EndpointComment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    answered: bool = False  # at least one endpoint answered with JSON


async def read_thread(fetcher: Fetcher, thread: Thread, max_comments: int, limit: int = MAX_JSON) -> ThreadRead:
    """Fetch the thread's endpoint URLs in order until done or ``max_comments`` comments were read."""
    read = ThreadRead(thread.platform, notes=list(thread.notes()))
    queue = list(thread.start())
    seen: set[str] = set()
    requests = 0
    replies = 0
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        if replies >= max_comments:
            read.notes.append(f"{thread.platform}: stopped after {max_comments} comments ([collect] max_comments)")
            break
        if requests >= max_comments + EXTRA_REQUESTS:
            read.notes.append(f"{thread.platform}: stopped after {requests} requests")
            break
        requests += 1
        answer = await _fetch_json(fetcher, url, limit)
        if isinstance(answer, str):
            read.notes.append(f"{thread.platform} comments: {answer}")
            if not read.answered or _refused(answer):
                break  # the first endpoint does not answer, or the platform asks us to stop: no more requests
            continue
        data, headers = answer
        read.answered = True
        step = thread.read(url, data, headers)
        for comment in step.comments:
            if not comment.body:
                if replies >= max_comments:
                    continue
                replies += 1
            read.comments.append(comment)
        read.notes += step.notes
        queue.extend(step.more)
    if replies >= max_comments and queue and not any("max_comments" in n for n in read.notes):
        read.notes.append(f"{thread.platform}: stopped after {max_comments} comments ([collect] max_comments)")
    return read


async def _fetch_json(fetcher: Fetcher, url: str, limit: int) -> tuple[object, dict[str, str]] | str:
    """(JSON, lower-cased headers) of one endpoint URL, or why not."""
    shown = redact(url)
    result = await fetcher.fetch(url)
    try:
        final = result.final
        if not result.ok or final is None:
            return f"could not fetch {shown}: {result.error} {result.detail}".strip()
        if final.status >= 400:
            return f"{shown} answered HTTP {final.status}"
        try:
            body = final_body(result, limit)
        except (OSError, ValueError) as exc:
            return f"could not read {shown}: {exc}"
        try:
            data = json.loads(body.decode("utf-8-sig", "replace"))
        except ValueError:
            return f"{shown} did not answer with JSON"
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in final.response_headers}
        return data, headers
    finally:
        result.cleanup()


def _refused(problem: str) -> bool:
    """An answer that says "stop asking" (rate limited, forbidden, down), not "this one is missing"."""
    return any(f"HTTP {status}" in problem for status in (401, 403, 429, 503))


def redact(url: str) -> str:
    """``url`` with key and token parameters blanked, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    pairs = [(k, "…" if _SECRET_PARAMS.match(k) else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="…/:,")))


async def add_platform_comments(
    collected: Collected, page: bytes | str, page_url: str, fetcher: Fetcher, max_comments: int,
    apis: APIs | None = None, charset: str | None = None,
) -> Collected:
    """The page's harvest with the comments of the platform it loads them from (module docstring)."""
    html = page if isinstance(page, str) else decode_document(page, charset)[0]
    thread = discover(html, page_url, apis)
    if thread is None:
        return collected
    read = await read_thread(fetcher, thread, max_comments)
    for note in read.notes:
        collected.problem(0, note)
    if not read.answered:
        return collected
    links = thread_links(read.comments, page_url)
    replies = len(thread_order([comment for comment in read.comments if not comment.body]))
    if replies:
        merge(collected, links, replies)
    else:  # no comment at all (closed, or hidden from the API): the page's own, if any, stay
        collected.links += _new_body_links(collected, links)
    return collected


def merge(collected: Collected, platform_links: list[RawLink], replies: int) -> None:
    """Replace the HTML's comment links by the platform's (``replies`` comments, numbered 1..replies);
    keep the HTML's pingbacks, numbered after them; add the opening post's body links."""
    comments = [link for link in platform_links if link.where == COMMENT]
    offset = replies
    kept, pingbacks = [], []
    renumber: dict[int, int] = {}
    for link in collected.links:
        if link.where != COMMENT:
            kept.append(link)
        elif link.comment_kind in ("pingback", "trackback") and link.comment is not None:
            number = renumber.setdefault(link.comment, offset + len(renumber) + 1)
            pingbacks.append(replace(link, comment=number, comment_parent=None))
    collected.links = kept + _new_body_links(collected, platform_links) + comments + pingbacks


def _new_body_links(collected: Collected, platform_links: list[RawLink]) -> list[RawLink]:
    """The opening post's links the page's body does not already cite."""
    body = {link.url for link in collected.links if link.where != COMMENT}
    return [link for link in platform_links if link.where != COMMENT and link.url not in body]
