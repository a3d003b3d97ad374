"""Disqus: the thread of a page, through the public API with the user's key.

A page with Disqus names its forum: ``disqus_shortname = 'NAME'``, the
embed script ``https://NAME.disqus.com/embed.js``, or ``data-disqus-shortname``;
and may name its thread (``this.page.identifier = '...'``,
``this.page.url = '...'``). The public API (``/api/3.0/threads/listPosts.json``)
needs an application's public key (``api_key``): with
``[collect] disqus_api_key`` set, ``forum=NAME&thread=ident:ID`` (else
``thread=link:URL``) lists the posts, 100 at a time, in order, the next
page named by ``cursor.next`` while ``cursor.hasNext``. A post: ``id``,
``parent`` (null for top level), ``author`` {``name``, ``username``},
``createdAt`` (UTC, no zone), ``message`` (HTML), ``isDeleted``. Without a
key the comments are not read, and the collection says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from lxml.html import HtmlElement

from .base import EndpointComment, Step, Thread, as_dict, as_list, text

LIMIT = 100
MAX_PAGES = 100
_SHORTNAME = re.compile(r"""disqus_shortname\s*=\s*['"]([A-Za-z0-9_-]{1,64})['"]""")
_EMBED = re.compile(r"//([A-Za-z0-9_-]{1,64})\.disqus\.com/(?:embed|count)\.js")
_IDENT = re.compile(r"""(?:page\.identifier|disqus_identifier)\s*=\s*['"]([^'"\n]{1,300})['"]""")
_URL = re.compile(r"""(?:page\.url|disqus_url)\s*=\s*['"](https?://[^'"\s]{1,2000})['"]""")


class DisqusThread(Thread):
    platform = "Disqus"

    def __init__(self, api: str, key: str, forum: str, identifier: str | None, url: str) -> None:
        self.api = api.rstrip("/") + "/"
        self.key = key
        self.forum = forum
        self.thread = f"ident:{identifier}" if identifier else f"link:{url}"
        self.url = url
        self.pages = 0

    def notes(self) -> list[str]:
        if self.key:
            return []
        return [f"comments are on Disqus (forum {self.forum!r}) and were not read: "
                "set [collect] disqus_api_key to a Disqus application's public key"]  # fmt: skip

    def start(self) -> list[str]:
        return [self._page(None)] if self.key else []

    def _page(self, cursor: str | None) -> str:
        query = {"api_key": self.key, "forum": self.forum, "thread": self.thread, "limit": LIMIT, "order": "asc"}
        if cursor:
            query["cursor"] = cursor
        return f"{self.api}threads/listPosts.json?" + urlencode(query)

    def read(self, url: str, data: Any, headers: Mapping[str, str]) -> Step:
        step = Step()
        answer = as_dict(data)
        if answer.get("code", 0) != 0:
            step.notes.append(f"Disqus answered with error {answer.get('code')}: {text(answer.get('response')) or ''}")
            return step
        for post in as_list(answer.get("response")):
            post = as_dict(post)
            if text(post.get("id")) is None or post.get("isDeleted") or post.get("isSpam"):
                continue
            author = as_dict(post.get("author"))
            created = text(post.get("createdAt"))
            step.comments.append(EndpointComment(
                id=str(post["id"]), parent_id=text(post.get("parent")),
                author=text(author.get("name")) or text(author.get("username")),
                date=f"{created}Z" if created and created[-1].isdigit() else created,
                permalink=f"{self.url.split('#')[0]}#comment-{post['id']}", html=text(post.get("message")) or "",
            ))  # fmt: skip
        cursor = as_dict(answer.get("cursor"))
        self.pages += 1
        if (cursor.get("hasNext") or cursor.get("more")) and text(cursor.get("next")) and self.pages < MAX_PAGES:
            if (parse_qs(urlsplit(url).query).get("cursor") or [""])[0] != cursor["next"]:
                step.more.append(self._page(str(cursor["next"])))
        return step


def discover_disqus(root: HtmlElement, page_url: str, api: str, key: str) -> DisqusThread | None:
    scripts = " ".join(str(s) for s in root.xpath("//script/text()"))
    sources = " ".join(str(s) for s in root.xpath("//script/@src"))
    found = _SHORTNAME.search(scripts) or _EMBED.search(sources) or _EMBED.search(scripts)
    forum = found.group(1) if found else None
    if forum is None:
        marked = root.xpath("//*[@data-disqus-shortname]/@data-disqus-shortname")
        forum = str(marked[0]).strip() if marked else None
    if not forum:
        return None
    ident = _IDENT.search(scripts)
    url = _URL.search(scripts)
    canonical = root.xpath("//link[@rel='canonical']/@href")
    thread_url = url.group(1) if url else (str(canonical[0]).strip() if canonical else page_url)
    return DisqusThread(api, key, forum, ident.group(1) if ident else None, thread_url)
