"""The workbench: a Flask app over the archive database (SPEC §9).

Pages (HTML, read on each request from the database)::

    GET  /                    the live report: counts, changes since the previous sweep,
                              problem links by article; ?state=&q=&article= filter it
    GET  /links               every link, any state; ?state=&q=&article=&host=&offset=
    GET  /link/<id>           one link: review, citations, captures (replay, raw), checks,
                              ?a=&b= the main-text diff between two captures
    GET  /decisions           every decision, undo buttons
    GET  /login, POST /login  the token form (only with [serve] token)

JSON API (the pages use it; ``X-CSRF-Token`` on POST, or ``Authorization: Bearer TOKEN``)::

    GET  /api/links?state=&article=&host=&q=&limit=&offset=   {"total", "links": [...]}
    GET  /api/links/<id>                                       the link, citations, captures,
                                                               checks and decisions
    GET  /api/decisions                                        every decision, newest first
    POST /api/decisions  {"link_id"|"url"|"host", "decision", "note"}   201 + the decision
    POST /api/decisions/<id>/undo                              200 + the decision, undone
    GET  /api/session                                          {"csrf": ...} for API clients
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, redirect, request
from werkzeug.exceptions import HTTPException

from ..config import Config
from ..errors import ArchiveBusy, ArchiverError
from ..archive.lock import ArchiveLock
from ..report.data import build_report
from ..report.model import PROBLEM_STATES, STATE_ORDER, LinkEntry, TextDiff, replay_url
from ..report.textdiff import text_diff
from ..archive.store import DB_NAME, Store
from . import assets, decisions, pages
from .security import HEADERS, SESSION_COOKIE, Guard
from .urls import COLLECTION

log = logging.getLogger(__name__)

MAX_PAGE = 500
MAX_BODY = 64 * 1024  # a decision is a few hundred bytes; larger request bodies are refused (413)
DECISION_WAIT = 3.0  # seconds a decision waits for a running sweep or check before 409


def _json(value: Any, status: int = 200) -> Response:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return Response(text, status=status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    if request.path.startswith("/api/"):
        return _json({"error": message}, status)
    return Response(pages.error_page(status, message), status=status, mimetype="text/html")


def create_app(config: Config, guard: Guard, replay_base_url: str) -> Flask:
    """The workbench app over ``config``'s archive; replay links point at ``replay_base_url``."""
    app = Flask("archiver.review", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    db_path = config.archive.dir / DB_NAME
    warc_dir = config.archive.dir / "warcs"
    replay_prefix = f"{replay_base_url}{COLLECTION}/"
    reviewer = config.serve.reviewer or "reviewer"
    # behind a TLS-terminating proxy the browser's Origin is public_url's, not the address reached
    public = urlsplit(config.serve.public_url)
    public_origin = [f"{public.scheme}://{public.netloc}"] if config.serve.public_url else []

    @contextmanager
    def deciding() -> Iterator[Store]:
        """The store, with the archive lock held: a check running now could otherwise write over a
        decision with the state it read before it (the lock is free between sweeps). A PostgreSQL
        archive needs no lock (workers take none): a decision locks its link's row and a check writes
        around it (Store.record_check_unless_decided), so a decision never waits for a sweep."""
        if config.archive.database:
            with open_store() as store:
                yield store
            return
        lock = ArchiveLock(config.archive.dir, wait=DECISION_WAIT, what="archiver serve: a decision")
        lock.acquire()
        try:
            with open_store() as store:
                yield store
        finally:
            lock.release()

    @contextmanager
    def open_store() -> Iterator[Store]:
        store = Store.open(config.archive.dir, config.archive.database)
        try:
            yield store
        finally:
            store.close()

    def csrf() -> str:
        return guard.csrf_token(request.cookies)

    @app.before_request
    def gatekeeper() -> Any:
        if not guard.host_ok(request.headers.get("Host", "")):
            return _error(403, "unknown Host name: open the workbench at 127.0.0.1 or localhost")
        if request.path.startswith("/static/") or request.path in ("/login", "/favicon.ico"):
            return None
        if not guard.authenticated(request.cookies, request.headers):
            if request.path.startswith("/api/"):
                return _json({"error": "a token is needed: Authorization: Bearer TOKEN"}, 401)
            return redirect("/login", code=303)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            if not guard.csrf_ok(request.cookies, request.headers, [request.host_url, *public_origin]):
                return _json({"error": "missing or wrong CSRF token (reload the page)"}, 403)
        return None

    @app.after_request
    def headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.errorhandler(404)
    def not_found(_: Exception) -> Response:
        return _error(404, "no such page")

    @app.errorhandler(405)
    def not_allowed(_: Exception) -> Response:
        return _error(405, "method not allowed")

    @app.errorhandler(ArchiveBusy)
    def busy(exc: ArchiveBusy) -> Response:
        return _error(409, f"a sweep or check is running: try again when it has finished ({exc})")

    @app.errorhandler(ArchiverError)
    def archiver_error(exc: ArchiverError) -> Response:
        return _error(400, str(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):  # abort(400) and the like: not a bug
            return _error(exc.code or 500, exc.description or exc.name)
        log.error("%s %s: unexpected error: %s: %s (run with -vv for the traceback)", request.method,
                  request.path, type(exc).__name__, exc)
        log.debug("traceback", exc_info=exc)
        return _error(500, f"unexpected error: {type(exc).__name__}")

    # -- static

    @app.get("/static/workbench.css")
    def css() -> Response:
        return Response(assets.CSS, mimetype="text/css")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    @app.get("/static/workbench.js")
    def js() -> Response:
        return Response(assets.SCRIPT, mimetype="text/javascript")

    # -- login

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if not guard.required:
            return redirect("/", code=303)
        if request.method == "GET":
            return Response(pages.login_page(), mimetype="text/html")
        origin = request.headers.get("Origin")
        if origin and origin.rstrip("/") not in {request.host_url.rstrip("/"), *public_origin}:
            return _error(403, "login from another origin refused")
        if not guard.check_login(request.form.get("token", "")):
            return Response(pages.login_page("wrong token"), status=403, mimetype="text/html")
        response = redirect("/", code=303)
        response.set_cookie(SESSION_COOKIE, guard.session_value, httponly=True, samesite="Strict",
                            secure=request.scheme == "https" or public.scheme == "https", path="/")
        return response

    # -- pages

    def wanted_states(default: tuple[str, ...]) -> list[str]:
        states = [s for s in request.args.getlist("state") if s in STATE_ORDER]
        return states or list(default)

    @app.get("/")
    def index() -> Response:
        try:
            offset = max(0, int(request.args.get("offset", "0")))
        except ValueError:
            abort(400)
        with open_store() as store:
            data = build_report(store, replay_base=replay_prefix, diffs=False)

            def diff_of(entry: LinkEntry) -> TextDiff | None:
                """Cited copy vs latest capture, as the HTML report shows (only for the links shown)."""
                row = store.link_by_id(entry.id)
                cited, latest = store.capture(row["cited_capture_id"]), store.capture(row["latest_capture_id"])
                digests = [c["payload_digest"] for c in (cited, latest) if c and c["payload_digest"]]
                texts = {t["payload_digest"]: t for t in store.report_texts(digests)}
                return text_diff(texts.get(cited["payload_digest"]) if cited else None,
                                 texts.get(latest["payload_digest"]) if latest else None)

            html = pages.report(data, states=wanted_states(PROBLEM_STATES), q=request.args.get("q", "").strip(),
                                source=request.args.get("article", ""), sources=store.source_list(), csrf=csrf(),
                                diff_of=diff_of, offset=offset)
        return Response(html, mimetype="text/html")

    def find(store: Store) -> tuple[int, list[dict[str, Any]], int, int]:
        try:
            limit = min(MAX_PAGE, max(1, int(request.args.get("limit", "100"))))
            offset = max(0, int(request.args.get("offset", "0")))
        except ValueError:
            abort(400)
        total, rows = store.find_links(states=[s for s in request.args.getlist("state") if s in STATE_ORDER],
                                       host=request.args.get("host") or None,
                                       source=request.args.get("article") or None,
                                       text=request.args.get("q", "").strip() or None, limit=limit, offset=offset)
        by_link, by_host = store.report_reviews()
        for row in rows:
            review = max((r for r in (by_link.get(row["id"]), by_host.get(row["host"])) if r),
                         key=lambda r: int(r["id"]), default=None)
            row["review"] = f"{review['decision']} by {review['decided_by']}" if review else None
        return total, rows, limit, offset

    @app.get("/links")
    def links() -> Response:
        with open_store() as store:
            total, rows, limit, offset = find(store)
            html = pages.links_list(rows, total, states=request.args.getlist("state"), q=request.args.get("q", ""),
                                    source=request.args.get("article", ""), host=request.args.get("host", ""),
                                    sources=store.source_list(), counts=store.count_by_state(), offset=offset,
                                    limit=limit, csrf=csrf())
        return Response(html, mimetype="text/html")

    def link_detail(store: Store, link_id: int) -> dict[str, Any]:
        try:
            row = store.link_by_id(link_id)
        except ArchiverError:
            abort(404)
        captures = store.captures_for(link_id)
        extra = {c["id"]: c for c in store.report_captures([c["id"] for c in captures])}
        for capture in captures:
            info = extra.get(capture["id"], {})
            capture["title"] = info.get("title")
            replayable = capture["warc"] is not None and capture["kind"] != "failed"
            stamp = info.get("record_date") or capture["captured_at"]
            target = capture["final_url"] or capture["url"]
            capture["raw"] = replay_url(replay_prefix, stamp, target) if replayable else None
            capture["replay"] = capture["raw"].replace("id_/", "/", 1) if capture["raw"] else None
        citations = store.citations(link_id)
        titles = store.source_titles(c["source"] for c in citations)
        for citation in citations:
            citation["source_title"] = titles.get(citation["source"])
        return {"link": row, "citations": citations, "captures": captures, "checks": store.checks(link_id),
                "decisions": store.decisions(link_id=link_id, host=row["host"])}

    def diff_pair(detail: dict[str, Any]) -> tuple[int | None, int | None]:
        """?a=&b= capture ids, else the cited copy and the latest capture with another payload."""
        ids = {c["id"]: c for c in detail["captures"] if c["payload_digest"]}
        try:
            a = int(request.args["a"]) if "a" in request.args else None
            b = int(request.args["b"]) if "b" in request.args else None
        except ValueError:
            abort(400)
        cited = detail["link"]["cited_capture_id"]
        a = a if a in ids else cited if cited in ids else (min(ids) if ids else None)
        if b not in ids:
            later = [cid for cid in ids if a is None or ids[cid]["payload_digest"] != ids[a]["payload_digest"]]
            b = max(later) if later else (max(ids) if ids else None)
        return a, b

    def text_of(store: Store, capture: dict[str, Any]) -> dict[str, Any] | None:
        from ..check.pages import TextExtractor, text_limit

        cached = store.text_for(capture["payload_digest"]) if capture["payload_digest"] else None
        if cached is not None:
            return cached
        try:
            page = _run_sync(TextExtractor(text_limit(config)).of_capture(store, warc_dir, capture))
        except (OSError, ValueError) as exc:
            log.warning("capture %s: text not extracted: %s", capture["id"], exc)
            return None
        return {"title": page.title, "text": page.text} if page is not None else None

    @app.get("/link/<int:link_id>")
    def link_page(link_id: int) -> Response:
        with open_store() as store:
            detail = link_detail(store, link_id)
            a, b = diff_pair(detail)
            diff = None
            if a is not None and b is not None:
                by_id = {c["id"]: c for c in detail["captures"]}
                diff = text_diff(text_of(store, by_id[a]), text_of(store, by_id[b]))
            from ..export.robust_links import cite_section, link_robust_links

            cite = cite_section(link_robust_links(store, config.serve, link_id,
                                                  base=replay_prefix),
                                store.alternatives([link_id]))
            html = pages.link_page(detail["link"], citations=detail["citations"], captures=detail["captures"],
                                   checks=detail["checks"], decisions=detail["decisions"], diff=diff,
                                   diff_pair=(a, b), cited_id=detail["link"]["cited_capture_id"], csrf=csrf(),
                                   cite=cite)
        return Response(html, mimetype="text/html")

    @app.get("/decisions")
    def decisions_page() -> Response:
        with open_store() as store:
            html = pages.decisions_page(store.decisions(limit=1000), csrf())
        return Response(html, mimetype="text/html")

    # -- API

    @app.get("/api/session")
    def api_session() -> Response:
        return _json({"csrf": csrf(), "reviewer": reviewer})

    @app.get("/api/links")
    def api_links() -> Response:
        with open_store() as store:
            total, rows, limit, offset = find(store)
        return _json({"total": total, "limit": limit, "offset": offset, "links": rows})

    @app.get("/api/links/<int:link_id>")
    def api_link(link_id: int) -> Response:
        with open_store() as store:
            return _json(link_detail(store, link_id))

    @app.get("/api/decisions")
    def api_decisions() -> Response:
        with open_store() as store:
            return _json({"decisions": store.decisions(limit=1000)})

    @app.post("/api/decisions")
    def api_decide() -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _json({"error": "expected a JSON object"}, 400)
        decision = str(body.get("decision", ""))
        note = body.get("note")
        by = str(body.get("by") or reviewer)[:100]
        with deciding() as store:
            url = body.get("url")
            if body.get("link_id") is not None:
                try:
                    url = store.link_by_id(int(body["link_id"]))["url"]
                except (ArchiverError, ValueError, TypeError):
                    return _json({"error": f"no link with id {body['link_id']!r}"}, 404)
            host = body.get("host")
            if decision == decisions.NOTE and not (note or "").strip():
                return _json({"error": "a note needs some text"}, 400)
            if url and body.get("link_id") is None:
                from ..collect.normalize import normalize_url

                url = normalize_url(str(url))
            row = decisions.decide(store, decision, url=str(url) if url and not host else None,
                                   host=str(host) if host else None, note=str(note) if note else None, by=by)
        return _json(row, 201)

    @app.post("/api/decisions/<int:decision_id>/undo")
    def api_undo(decision_id: int) -> Response:
        body = request.get_json(silent=True) or {}
        by = str(body.get("by") or reviewer)[:100] if isinstance(body, dict) else reviewer
        with deciding() as store:
            return _json(decisions.undo(store, decision_id, by=by))

    return app


def _run_sync(coroutine: Any) -> Any:
    """Run a coroutine that never really waits (text extraction without a pool) to its end."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("the coroutine waited")


def archive_exists(config: Config) -> bool:
    return bool(config.archive.database) or Path(config.archive.dir / DB_NAME).exists()

