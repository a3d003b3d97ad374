"""What the fetch alone does not show, stored at capture (SPEC §5, §6).

After a batch of first captures, two kinds of cited links get more than their
raw page:

- a post or video on a platform (``archiver.platforms``): the endpoint's answer
  is stored as the cited one;
- an application shell (``archiver.render``): the page is rendered in headless
  Chromium, its rendered text becomes the cited text, and the DOM and a
  screenshot are stored beside the response.

Both only touch the links they concern: a sweep of static articles asks no
endpoint and starts no browser.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from .archive import Archive
from .platforms import endpoint_for, load_providers

log = logging.getLogger(__name__)


def after_capture(archive: Archive, link_ids: Iterable[int]) -> None:
    """Store the platform answers and rendered copies of links just captured for the first time."""
    rows = [archive.store.link_by_id(i) for i in link_ids]
    rows = [r for r in rows if r["cited_capture_id"] is not None]
    if not rows:
        return
    config = archive.config
    providers = load_providers(config.platforms.providers) if config.platforms.enabled else ()
    posts = [r for r in rows if providers and endpoint_for(r["url"], providers) is not None]
    from . import render

    others = [r for r in rows if r not in posts]  # a post's endpoint decides: its page is not rendered
    shells = render.shell_links(archive, others) if config.render.mode != "never" else []
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
    from .fetch import Fetcher
    from .platforms import Platforms

    async with Fetcher(archive.config.fetch, temp_dir=archive.temp_dir) as fetcher:
        if posts:
            platforms = Platforms(archive, fetcher)
            await asyncio.gather(*(platforms.capture(link, "", None) for link in posts))
    if shells:
        from . import render

        await render.capture_rendered(archive, shells)
