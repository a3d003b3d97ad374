"""Posts and videos on platforms, checked through their public, keyless endpoints (SPEC §5).

A post on X or a YouTube video answers 200 with the same script shell whether
it exists or not, so the page alone says nothing. Each platform documents a
public endpoint that does: oEmbed (X, YouTube, Vimeo, TikTok, SoundCloud,
Flickr, and any site that advertises it with ``<link rel="alternate"
type="application/json+oembed">``), Reddit's ``.json``, Mastodon's statuses API
(any instance), Bluesky's public AppView. The providers are data
(``platforms.json`` beside this module, extended or overridden by ``[platforms]
providers``); the code here only knows how to read each *kind* of answer::

    alive    title and text, compared with the cited answer like any page
             (ok / minor-edit; changed on an edit or a replaced video)
    removed  deleted or not found: a failure, reason "removed" (dead once confirmed)
    private  private, protected, embedding disabled: blocked, reason "private"
    unknown  anything else (rate limits, server errors, an unreadable answer):
             the page's own verdict stands

Every endpoint answer is written to the WARCs as its own request/response pair
and recorded as a capture of the link (the evidence); the first alive answer
is the cited one (its text is kept in ``texts`` like a page's).
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from html import unescape
from importlib import resources
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from .diff import similarity, titles_match
from ..models import FetchResult, Verdict
from .states import Judgement

KINDS = ("oembed", "reddit", "mastodon", "bluesky")
# An answer larger than this is not a post's metadata.
ANSWER_MAX = 2 * 1024 * 1024


@dataclass(frozen=True)
class Provider:
    name: str
    kind: str
    patterns: tuple[re.Pattern[str], ...]
    endpoint: str


@dataclass(frozen=True)
class Answer:
    """What a platform's endpoint said about one post."""

    status: str  # alive | removed | private | unknown
    title: str | None = None
    text: str = ""
    detail: str = ""


# ---------------------------------------------------------------- the table


def _compile(pattern: str) -> re.Pattern[str]:
    if pattern.startswith("re:"):
        return re.compile(pattern[3:], re.IGNORECASE)
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE)


def _provider(entry: dict[str, Any]) -> Provider:
    kind = str(entry.get("kind") or "oembed")
    if kind not in KINDS:
        raise ValueError(f"platform {entry.get('name')!r}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    return Provider(str(entry["name"]), kind, tuple(_compile(p) for p in entry["url_patterns"]), str(entry["endpoint"]))


@cache
def builtin_entries() -> tuple[dict[str, Any], ...]:
    text = resources.files("archiver.check").joinpath("platforms.json").read_text(encoding="utf-8")
    return tuple(json.loads(text)["providers"])


def load_providers(extra: Iterable[dict[str, Any]] = ()) -> tuple[Provider, ...]:
    """The built-in table with ``[platforms] providers`` applied: same name replaces, new names come first."""
    extra = list(extra)
    names = {str(e["name"]).lower() for e in extra}
    entries = [*extra, *(e for e in builtin_entries() if str(e["name"]).lower() not in names)]
    return tuple(_provider(e) for e in entries)


def endpoint_for(url: str, providers: Iterable[Provider]) -> tuple[Provider, str] | None:
    """The provider whose patterns match ``url`` and the endpoint URL to ask, or None."""
    for provider in providers:
        for pattern in provider.patterns:
            match = pattern.match(url)
            if match is None:
                continue
            parts = urlsplit(url)
            fields = {"url": quote(url, safe=""), "scheme": parts.scheme, "host": parts.netloc, "path": parts.path,
                      **{k: quote(v, safe="@:.") for k, v in match.groupdict().items() if v is not None}}
            try:
                return provider, provider.endpoint.format(**fields)
            except (KeyError, IndexError, ValueError):
                continue
    return None


_LINK_TAG = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"([a-zA-Z_:-]+)\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+)")


def discover(html: str, base_url: str) -> str | None:
    """The JSON oEmbed endpoint a page advertises (``<link rel="alternate" type="application/json+oembed">``)."""
    for tag in _LINK_TAG.findall(html[:500_000]):
        attrs = {k.lower(): unescape(v.strip("\"'")) for k, v in _ATTR.findall(tag)}
        if "alternate" in attrs.get("rel", "").lower().split() \
                and attrs.get("type", "").lower() == "application/json+oembed" and attrs.get("href"):
            href = urljoin(base_url, attrs["href"])
            if urlsplit(href).scheme in ("http", "https"):
                return href
    return None


# ---------------------------------------------------------------- reading answers


def _plain(html: str | None) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", html or "", flags=re.S | re.I)
    text = re.sub(r"<br\s*/?>|</p>", "\n", text, flags=re.I)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split())


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return None


def read_answer(kind: str, status: int | None, body: bytes) -> Answer:
    """What an endpoint's answer (status and body) says about the post. Pure."""
    if status is None:
        return Answer("unknown", detail="no answer")
    data = _json(body) if body else None
    reader = {"oembed": _oembed, "reddit": _reddit, "mastodon": _mastodon, "bluesky": _bluesky}[kind]
    return reader(status, data, body)


def _oembed(status: int, data: Any, body: bytes) -> Answer:
    # oEmbed 1.0 §2.3.4.2: 404 "no response for the requested url", 401 "the url contains a private
    # (non-public) resource"; 403 is what X answers for protected or suspended accounts.
    if status in (404, 410):
        return Answer("removed", detail=f"the oEmbed endpoint answers {status}: not found")
    if status in (401, 403):
        return Answer("private", detail=f"the oEmbed endpoint answers {status}: private or not embeddable")
    if status == 200 and isinstance(data, dict) and ("type" in data or "title" in data or "html" in data):
        title = data.get("title") if isinstance(data.get("title"), str) else None
        text = " ".join(v for v in (str(data.get("author_name") or ""), _plain(str(data.get("html") or ""))) if v)
        return Answer("alive", title, text)
    if status == 200 and body.strip().lower() in (b"forbidden", b"unauthorized", b"not found"):
        # YouTube answers a private video with 200 and a bare "Forbidden"
        word = body.strip().decode("ascii", "replace").lower()
        return Answer("removed" if word == "not found" else "private", detail=f"the oEmbed endpoint answers {word!r}")
    return Answer("unknown", detail=f"the oEmbed endpoint answers {status}")


def _reddit(status: int, data: Any, body: bytes) -> Answer:
    reason = data.get("reason") if isinstance(data, dict) else None
    if status == 404:
        return Answer("removed", detail=f"Reddit answers 404{f' ({reason})' if reason else ''}")
    if status == 403:
        return Answer("private", detail=f"Reddit answers 403{f' ({reason})' if reason else ''}")
    if status != 200 or not isinstance(data, list) or not data:
        return Answer("unknown", detail=f"Reddit answers {status}")
    try:
        post = data[0]["data"]["children"][0]["data"]
    except (KeyError, IndexError, TypeError):
        return Answer("unknown", detail="Reddit's answer has no post")
    body_text = str(post.get("selftext") or "")
    if post.get("removed_by_category") or body_text in ("[removed]", "[deleted]") \
            or (post.get("author") == "[deleted]" and not body_text and not post.get("url")):
        why = post.get("removed_by_category") or body_text.strip("[]") or "deleted"
        return Answer("removed", detail=f"Reddit says the post was {why}")
    return Answer("alive", str(post.get("title") or "") or None, body_text or str(post.get("url") or ""))


def _mastodon(status: int, data: Any, body: bytes) -> Answer:
    # GET /api/v1/statuses/:id — 404 "Record not found": the status does not exist or is not public
    if status in (404, 410):
        return Answer("removed", detail=f"the instance answers {status}: the status does not exist or is not public")
    if status == 200 and isinstance(data, dict) and "content" in data:
        account = _dict(data.get("account"))
        text = " ".join(v for v in (str(data.get("spoiler_text") or ""), _plain(str(data.get("content") or ""))) if v)
        return Answer("alive", str(account.get("acct") or "") or None, text)
    return Answer("unknown", detail=f"the instance answers {status}")


def _bluesky(status: int, data: Any, body: bytes) -> Answer:
    # app.bsky.feed.getPostThread: 400 {"error": "NotFound"}; or a thread of $type notFoundPost / blockedPost
    error = data.get("error") if isinstance(data, dict) else None
    if status == 400 and error == "NotFound" or status == 404:
        return Answer("removed", detail="the AppView answers NotFound")
    if status != 200 or not isinstance(data, dict) or not isinstance(data.get("thread"), dict):
        return Answer("unknown", detail=f"the AppView answers {status}{f' ({error})' if error else ''}")
    thread = data["thread"]
    kind = str(thread.get("$type") or "")
    if kind.endswith("#notFoundPost") or thread.get("notFound"):
        return Answer("removed", detail="the AppView answers notFoundPost")
    if kind.endswith("#blockedPost") or thread.get("blocked"):
        return Answer("private", detail="the AppView answers blockedPost")
    post = _dict(thread.get("post"))
    record, author = _dict(post.get("record")), _dict(post.get("author"))
    if not record:
        return Answer("unknown", detail="the AppView's thread has no post")
    return Answer("alive", str(author.get("handle") or "") or None, str(record.get("text") or ""))


def answer_text(answer: Answer) -> str:
    """What is compared between the cited and the live answer: title and text together."""
    return "\n".join(v for v in (answer.title or "", answer.text) if v)


def compare(cited: Answer, live: Answer, changed_below: float) -> Judgement:
    """An alive post against its cited answer: ok, minor-edit, title-changed or drift."""
    old, new = answer_text(cited), answer_text(live)
    if old == new:
        return Judgement(Verdict.OK, "unchanged", 1.0)
    if cited.title and live.title and not titles_match(cited.title, live.title):
        score = similarity(old, new)
        return Judgement(Verdict.CHANGED, "title-changed", score, f"the platform's title is now {live.title!r}")
    score = similarity(cited.text, live.text) if cited.text or live.text else 1.0
    if score < changed_below:
        return Judgement(Verdict.CHANGED, "drift", score, f"the post's text changed (similarity {score:.2f})")
    return Judgement(Verdict.OK, "unchanged" if score >= 0.999 else "minor-edit", score)


def verdict_of(answer: Answer, cited: Answer | None, changed_below: float, where: str) -> Judgement | None:
    """The verdict an endpoint's answer gives, or None when it says nothing definite."""
    if answer.status == "removed":
        return Judgement(Verdict.FAILED, "removed", detail=f"{answer.detail}; {where}")
    if answer.status == "private":
        return Judgement(Verdict.BLOCKED, "private", detail=f"{answer.detail}; {where}")
    if answer.status != "alive":
        return None
    if cited is None:
        return Judgement(Verdict.OK, "unchanged", None, f"the platform's answer is now the reference; {where}")
    found = compare(cited, answer, changed_below)
    return Judgement(found.verdict, found.reason, found.similarity,
                           f"{found.detail + '; ' if found.detail else ''}{where}")


# ---------------------------------------------------------------- asking, storing


class Platforms:
    """Asks platforms' endpoints about an archive's links and stores their answers as evidence."""

    def __init__(self, archive: Any, fetcher: Any) -> None:
        self.archive = archive
        self.fetcher = fetcher
        self.providers = load_providers(archive.config.platforms.providers)
        self.limit = asyncio.Semaphore(max(1, archive.config.fetch.concurrency))

    def matches(self, url: str) -> bool:
        """A post of a platform in the table (its endpoint decides; the page need not be rendered)."""
        return endpoint_for(url, self.providers) is not None

    def endpoint(self, url: str, page_html: str = "", page_words: int | None = None) -> tuple[str, str] | None:
        """(kind, endpoint URL) for a link: from the table, else from the page's oEmbed discovery tag.

        Discovery is only used for a page with too little text of its own to
        judge (a script shell); an article's own text says more than its oEmbed title.
        """
        found = endpoint_for(url, self.providers)
        if found is not None:
            return found[0].kind, found[1]
        if page_html and page_words is not None and page_words < SHELL_WORDS:
            href = discover(page_html, url)
            if href is not None:
                return "oembed", _json_format(href)
        return None

    def discovery_page(self, result: FetchResult, live_text: str | None) -> tuple[str, int | None]:
        """(raw HTML, word count) of a live page that may advertise an oEmbed endpoint, else ("", None).

        Only a page with too little text of its own is looked at; a page whose
        body does not mention ``json+oembed`` is not decoded."""
        if result.final is None or result.status != 200 or result.final.body_length > 4 * ANSWER_MAX:
            return "", None
        if live_text is not None and _has_words(live_text, SHELL_WORDS):
            return "", None
        body = _body(result, 8 * ANSWER_MAX)
        if body.find(b"json+oembed", 0, 256 * 1024) < 0:  # the discovery tag is in the head
            return "", None
        from .extract import decode_text
        from .judge import visible_words

        html = decode_text(body, result.final.header("content-type"))
        words = len(live_text.split()) if live_text is not None else len(visible_words(html))
        return html, words

    async def ask(self, link_id: int, kind: str, endpoint: str) -> tuple[Answer, str]:
        """Ask the endpoint; store its answer (WARC + capture row); return it and where it is stored."""
        async with self.limit:
            result: FetchResult = await self.fetcher.call("GET", endpoint, headers={"Accept": "application/json"},
                                                          cap=ANSWER_MAX)
        try:
            body = _body(result)
            answer = read_answer(kind, result.status if result.ok else None, body)
            where = "no answer stored"
            if result.hops:
                saved = self.archive.save(link_id, result)
                where = f"endpoint answer {endpoint} ({result.status}) at warcs/{saved.warc}:{saved.offset}"
                digest = result.final.payload_digest if result.final else ""
                if answer.status == "alive" and digest:
                    self.archive.store.save_text(digest, answer.title, answer.text, f"platform:{kind}")
            elif result.error:
                where = f"endpoint {endpoint}: {result.error}"
            return answer, where
        finally:
            result.cleanup()

    def cited_answer(self, link: dict[str, Any], endpoint: str, before_id: int | None = None) -> Answer | None:
        """The first alive answer stored for this link's endpoint: the cited one."""
        store = self.archive.store
        for capture in store.captures_for(link["id"]):
            if before_id is not None and capture["id"] >= before_id:
                break
            if capture["url"] != endpoint or capture["status"] != 200 or not capture["payload_digest"]:
                continue
            row = store.text_for(capture["payload_digest"])
            if row is not None and str(row["fingerprint"] or "").startswith("platform:"):
                return Answer("alive", row["title"], row["text"])
        return None

    async def judge(self, link: dict[str, Any], page_html: str, page_words: int | None,
                    changed_below: float) -> Judgement | None:
        """The platform's verdict on a link, or None (not a platform post, or no definite answer)."""
        found = self.endpoint(link["url"], page_html, page_words)
        if found is None:
            return None
        kind, endpoint = found
        cited = self.cited_answer(link, endpoint)
        answer, where = await self.ask(link["id"], kind, endpoint)
        return verdict_of(answer, cited, changed_below, where)

    async def capture(self, link: dict[str, Any], page_html: str, page_words: int | None) -> Answer | None:
        """At citation: store the endpoint's answer as the cited one (if the link is a platform post)."""
        found = self.endpoint(link["url"], page_html, page_words)
        if found is None or self.cited_answer(link, found[1]) is not None:
            return None
        answer, _ = await self.ask(link["id"], *found)
        return answer


# A page with fewer words than this in its raw HTML carries too little text to judge.
SHELL_WORDS = 60
_WORD = re.compile(r"\S+")


def _has_words(text: str, count: int) -> bool:
    """``len(text.split()) >= count``, reading no further than the ``count``-th word."""
    return any(True for n, _ in enumerate(_WORD.finditer(text), 1) if n >= count)


def _json_format(href: str) -> str:
    """A discovered endpoint asked for JSON (``format=json``) when it names a format at all."""
    return re.sub(r"([?&]format=)xml\b", r"\1json", href)


def _body(result: FetchResult, limit: int = ANSWER_MAX) -> bytes:
    from .pages import final_body

    try:
        return final_body(result, limit)
    except (OSError, ValueError):
        return b""
