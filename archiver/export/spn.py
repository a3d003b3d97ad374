"""Save Page Now 2: newly cited URLs submitted to the Internet Archive (``[external] submit = true``).

Off by default. The keys are the user's Internet Archive S3-style keys
(https://archive.org/account/s3.php), read from the environment, never from a file:

    ARCHIVER_IA_ACCESS_KEY   the access key
    ARCHIVER_IA_SECRET_KEY   the secret

After a sweep has captured its new links, each is submitted as the SPN2 API documents::

    POST <save_url>                      Accept: application/json
    Authorization: LOW <access>:<secret> Content-Type: application/x-www-form-urlencoded
    url=<URL>                         -> {"url": ..., "job_id": "spn2-..."}

and its job is polled until it ends (``GET <save_url>/status/<job_id>`` -> ``{"status": "pending"}``,
``{"status": "success", "timestamp": "20261130031500", "original_url": ...}`` or ``{"status":
"error", "status_ext": "error:...", "message": ...}``), for at most ``POLL_FOR`` seconds; a job
still pending is polled again after the next sweep. Each submission and its result are recorded in the
``submissions`` table (a success with its Wayback URL, ``<web>/<timestamp>/<original_url>``).

Rate limits and errors per the API: requests go one at a time with the fetch ``per_host_delay``
between them; an HTTP 429 (too many requests or captures in progress) stops submitting for this run
and the URLs not sent are queued for the next sweep; an error answer (``status: error``) is recorded
with its ``status_ext`` and message and not retried. Problems come back as notes for the sweep summary,
never as a failed sweep. The secret is sent only to ``save_url`` and is never written to the WARCs
or the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ..config import Config
from ..capture.fetch import Fetcher
from ..models import FetchResult
from ..archive.store import iso, utcnow

ACCESS_KEY_ENV = "ARCHIVER_IA_ACCESS_KEY"
SECRET_KEY_ENV = "ARCHIVER_IA_SECRET_KEY"
MAX_PER_RUN = 200  # submissions per sweep; the rest are queued for the next
POLL_EVERY = 5.0  # seconds between two status requests for the pending jobs
POLL_FOR = 120.0  # seconds a sweep waits for its jobs; later ones are polled after the next sweep


def _json(result: FetchResult) -> dict[str, Any] | None:
    final = result.final
    if final is None or final.body_path is None:
        return None
    try:
        value = json.loads(final.body_path.read_bytes().decode("utf-8", "replace"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def web_url(save_url: str, timestamp: str, original: str) -> str:
    """The Wayback URL of a capture: ``https://web.archive.org/save`` -> ``https://web.archive.org/web/<ts>/<url>``."""
    base = save_url.rstrip("/")
    base = base[: -len("/save")] if base.endswith("/save") else base
    return f"{base}/web/{timestamp}/{original}"


def _error_text(answer: dict[str, Any] | None, result: FetchResult) -> str:
    if answer is not None and (answer.get("status_ext") or answer.get("message")):
        return " ".join(str(part) for part in (answer.get("status_ext"), answer.get("message")) if part)
    if result.error:
        return f"{result.error}: {result.detail}"
    return f"HTTP {result.status}"


class _Session:
    """One sweep's conversation with Save Page Now."""

    def __init__(self, archive: Any, fetcher: Fetcher, headers: Mapping[str, str]) -> None:
        self.archive, self.fetcher, self.headers = archive, fetcher, headers
        self.save_url: str = archive.config.external.save_url
        self.notes: list[str] = []

    async def submit(self, link_id: int, url: str, queued: int | None) -> bool:
        """Submit one URL; False when Save Page Now asks us to stop (429) or is unreachable."""
        store = self.archive.store
        result = await self.fetcher.call("POST", self.save_url, headers=self.headers, data={"url": url})
        try:
            answer = _json(result)
            now = iso(utcnow())
            values: dict[str, Any] = {"submitted_at": now}
            if result.status == 429 or result.error:
                why = "asked us to slow down (HTTP 429)" if result.status == 429 else _error_text(None, result)
                self.notes.append(f"Save Page Now {why}: the other new links are submitted after the next sweep")
                if queued is None:
                    store.add_submission({"link_id": link_id, "url": url, "status": "queued", "message": why,
                                          **values})
                return False
            if answer is not None and answer.get("job_id"):
                values.update(status="pending", job_id=str(answer["job_id"]), message=answer.get("message"))
            else:
                values.update(status="error", message=_error_text(answer, result), finished_at=now)
                self.notes.append(f"Save Page Now refused {url}: {values['message']}")
            if queued is None:
                store.add_submission({"link_id": link_id, "url": url, **values})
            else:
                store.update_submission(queued, **values)
            return True
        finally:
            result.cleanup()

    async def poll(self, job: dict[str, Any]) -> bool:
        """Ask for one job's status and record it once it has ended; True when it has."""
        result = await self.fetcher.call("GET", f"{self.save_url.rstrip('/')}/status/{job['job_id']}",
                                         headers=self.headers)
        try:
            answer = _json(result)
            status = answer.get("status") if answer else None
            now = iso(utcnow())
            if status == "success":
                timestamp = str(answer.get("timestamp") or "") if answer else ""
                original = str(answer.get("original_url") or job["url"]) if answer else job["url"]
                moment = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC) \
                    if len(timestamp) == 14 and timestamp.isdigit() else None
                self.archive.store.update_submission(
                    job["id"], status="success", finished_at=now,
                    memento_url=web_url(self.save_url, timestamp, original) if moment else None,
                    memento_datetime=iso(moment) if moment else None)
                return True
            if status == "error":
                message = _error_text(answer, result)
                self.archive.store.update_submission(job["id"], status="error", finished_at=now, message=message)
                self.notes.append(f"Save Page Now could not capture {job['url']}: {message}")
                return True
            return False
        finally:
            result.cleanup()


def keys(env: Mapping[str, str]) -> tuple[str, str] | None:
    access, secret = env.get(ACCESS_KEY_ENV, "").strip(), env.get(SECRET_KEY_ENV, "").strip()
    return (access, secret) if access and secret else None


def submit_new_links(archive: Any, link_ids: Iterable[int], *, env: Mapping[str, str] | None = None,
                     poll_every: float | None = None, poll_for: float | None = None) -> list[str]:
    """Submit the sweep's newly captured links (and those queued earlier), poll the pending jobs;
    returns notes for the sweep summary. Does nothing unless ``[external] submit = true``."""
    config: Config = archive.config
    if not config.external.submit or not config.external.save_url:
        return []
    found = keys(os.environ if env is None else env)
    if found is None:
        return [f"[external] submit = true, but ${ACCESS_KEY_ENV} and ${SECRET_KEY_ENV} are not both set: "
                "nothing was submitted to Save Page Now"]
    headers = {"Accept": "application/json", "Authorization": f"LOW {found[0]}:{found[1]}"}
    return asyncio.run(_run(archive, list(link_ids), headers, POLL_EVERY if poll_every is None else poll_every,
                            POLL_FOR if poll_for is None else poll_for))


async def _run(archive: Any, link_ids: list[int], headers: Mapping[str, str], poll_every: float,
               poll_for: float) -> list[str]:
    store = archive.store
    queued = [(int(row["link_id"]), row["url"], int(row["id"])) for row in store.submissions(status="queued")]
    done = store.submitted_link_ids(link_ids)
    fresh: list[tuple[int, str, int | None]] = []
    for link_id in link_ids:
        if link_id in done:
            continue
        link = store.link_by_id(link_id)
        if link["url"].startswith(("http://", "https://")) and link["state"] != "excluded":
            fresh.append((link_id, link["url"], None))
    wanted = (queued + fresh)[:MAX_PER_RUN]
    config = replace(archive.config.fetch, per_host_concurrency=1, retries=0)
    async with Fetcher(config, temp_dir=archive.temp_dir) as fetcher:
        session = _Session(archive, fetcher, headers)
        for link_id, url, queued_id in wanted:
            if not await session.submit(link_id, url, queued_id):
                for later_id, later_url, later_queued in wanted[wanted.index((link_id, url, queued_id)) + 1:]:
                    if later_queued is None:
                        store.add_submission({"link_id": later_id, "url": later_url, "status": "queued",
                                              "submitted_at": iso(utcnow()), "message": "not sent yet (rate limit)"})
                break
        deadline = time.monotonic() + poll_for
        while True:
            pending = [row for row in store.submissions(status="pending") if row["job_id"]]
            if not pending:
                break
            for job in pending:
                await session.poll(job)
            if time.monotonic() + poll_every > deadline:
                break
            await asyncio.sleep(poll_every)
        still = len(store.submissions(status="pending"))
        if still:
            session.notes.append(f"Save Page Now: {still} capture(s) still in progress, asked again after the "
                                 "next sweep")
    return session.notes
