"""Replay of every stored copy: pywb's own app over ``warcs/`` and ``index.cdxj`` (SPEC §9).

Served on its own port, so on another origin than the workbench. URLs::

    <replay>/archive/<14-digit timestamp>/<url>      the page, rewritten to replay from the archive
    <replay>/archive/<14-digit timestamp>id_/<url>   the stored bytes, unrewritten (raw)
    <replay>/archive/<url>                           Memento TimeGate (RFC 7089; Accept-Datetime)
    <replay>/archive/timemap/link/<url>              Memento TimeMap (application/link-format)

pywb answers with the Memento headers (``Memento-Datetime``, ``Link`` with
original, timegate, timemap and memento relations, ``Vary: accept-datetime``).
It reads ``index.cdxj`` on every request, so copies written by a sweep while
the server runs replay once their WARC file is closed.

Importing pywb's app monkeypatches the process with gevent: import this module
only in ``archiver serve``, after ``gevent.monkey.patch_all()``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..capture.cdxj import INDEX_NAME
from .security import Guard
from .urls import COLLECTION

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def pywb_config(warc_dir: Path, config_dir: Path) -> Path:
    """A pywb config.yaml in ``config_dir``: one collection over ``warc_dir``, Memento on, unframed."""
    warc_dir = warc_dir.resolve()
    path = config_dir / "pywb.yaml"
    path.write_text(
        "collections:\n"
        f"  {json.dumps(COLLECTION)}:\n"
        f"    index: {json.dumps(str(warc_dir / INDEX_NAME))}\n"
        f"    archive_paths: {json.dumps(str(warc_dir) + '/')}\n"
        "enable_auto_colls: false\n"
        "enable_memento: true\n"
        "framed_replay: false\n",
        encoding="utf-8",
    )
    return path


def create_replay(warc_dir: Path, config_dir: Path, guard: Guard, login_url: str) -> WSGIApp:
    """pywb's FrontEndApp, behind the workbench's token when one is set."""
    from pywb.apps.frontendapp import FrontEndApp
    from werkzeug.wrappers import Request

    if not (warc_dir / INDEX_NAME).exists():  # nothing closed yet: pywb wants the file to read
        warc_dir.mkdir(parents=True, exist_ok=True)
        (warc_dir / INDEX_NAME).touch()
    pywb = FrontEndApp(config_file=str(pywb_config(warc_dir, config_dir)))

    def refuse(status: str, text: str, start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = text.encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not guard.host_ok(environ.get("HTTP_HOST", "")):  # no DNS rebinding onto the archive either
            return refuse("403 Forbidden", "unknown Host name\n", start_response)
        if guard.required:
            request = Request(environ)
            if not guard.authenticated(request.cookies, request.headers):
                return refuse("401 Unauthorized", f"Log in to the workbench first: {login_url}\n", start_response)
        return pywb(environ, start_response)  # type: ignore[no-any-return]

    return app
