"""What the fetch alone does not show, stored at capture (SPEC §5, §6).

After a batch of first captures, two kinds of cited links get more than their
raw page:

- a post or video on a platform (``archiver.check.platforms``): the endpoint's answer
  is stored as the cited one;
- an application shell (``archiver.check.render``): the page is rendered in headless
  Chromium, its rendered text becomes the cited text, and the DOM and a
  screenshot are stored beside the response.

Both only touch the links they concern: a sweep of static articles asks no
endpoint and starts no browser.
"""

from __future__ import annotations

import asyncio
import logging
import re
import zlib
from collections.abc import Iterable
from typing import Any

from ..archive import Archive
from .platforms import SHELL_WORDS, endpoint_for, load_providers
from ..capture.warc import OPEN_SUFFIX

log = logging.getLogger(__name__)

SHELL_MAX_BYTES = 512 * 1024  # a captured page bigger than this is not looked at as a shell


def after_capture(archive: Archive, link_ids: Iterable[int]) -> None:
    """Store the platform answers and rendered copies of links just captured for the first time."""
    rows = [archive.store.link_by_id(i) for i in link_ids]
    rows = [r for r in rows if r["cited_capture_id"] is not None]
    if not rows:
        return
    config = archive.config
    providers = load_providers(config.platforms.providers) if config.platforms.enabled else ()
    posts = [r for r in rows if providers and endpoint_for(r["url"], providers) is not None]
    post_ids = {r["id"] for r in posts}
    others = [r for r in rows if r["id"] not in post_ids]  # a post's endpoint decides: its page is not rendered
    candidates = [r for r in others if _may_need_render(archive, r)] if config.render.mode != "never" else []
    shells: list[dict[str, Any]] = []
    if candidates:  # (the renderer's module, with the extractor, is imported only then)
        from . import render

        shells = render.shell_links(archive, candidates)
    if not (posts or shells):
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_enrich(archive, posts, shells))
    else:  # called from inside an event loop (a library user's): leave it to the first check
        log.warning("platform answers and renderings of %d link(s) are left to their first check",
                    len(posts) + len(shells))


async def _enrich(archive: Archive, posts: list[dict[str, Any]], shells: list[dict[str, Any]]) -> None:
    from ..capture.fetch import Fetcher
    from .platforms import Platforms

    async with Fetcher(archive.config.fetch, temp_dir=archive.temp_dir) as fetcher:
        if posts:
            platforms = Platforms(archive, fetcher)
            await asyncio.gather(*(platforms.capture(link, "", None) for link in posts))
    if shells:
        from . import render

        await render.capture_rendered(archive, shells)


def _may_need_render(archive: Archive, link: dict[str, Any]) -> bool:
    """A cited capture that is a small HTML page not yet rendered, whose opening is no article (cheap)."""
    capture = archive.store.capture(link["cited_capture_id"])
    if capture is None or not capture["warc"] or capture["kind"] != "response" or capture["status"] != 200:
        return False
    kind = (capture["content_type"] or "").split(";")[0].strip().lower()
    if kind not in ("text/html", "application/xhtml+xml", "") or capture["bytes"] > SHELL_MAX_BYTES:
        return False
    if archive.config.render.mode == "always":
        return True
    cited = archive.store.text_for(capture["payload_digest"]) if capture["payload_digest"] else None
    if cited is not None and len(cited["text"].split()) >= SHELL_WORDS:
        return False  # its main text, extracted at capture, is long enough to judge
    return not reads_as_article(archive.warc_dir, capture["warc"], capture["offset"], capture["length"])


def reads_as_article(directory: Any, name: str, offset: int, length: int | None) -> bool:
    """The opening of a stored response already has many paragraphs: no shell (a cheap first look:
    the first 96 KB of the record, without parsing it)."""
    for candidate in (name, name + OPEN_SUFFIX):
        try:
            with open(directory / candidate, "rb") as stream:
                stream.seek(offset)
                data = stream.read(min(length or 32768, 32768))
            break
        except OSError:
            continue
    else:
        return False
    try:
        opening = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, 96 * 1024)
    except zlib.error:
        return False
    _, _, rest = opening.partition(b"\r\n\r\n")  # the WARC header block
    http_head, _, body = rest.partition(b"\r\n\r\n")
    if re.search(rb"(?im)^content-encoding:\s*(?!identity)\S", http_head):
        return False  # a compressed body: look at it the long way
    return body.count(b"<p") >= 8
