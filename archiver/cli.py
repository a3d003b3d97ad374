"""Command line: parse, build a Config, call one library function, map errors to exit codes."""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import math
import os
import sqlite3
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from . import __version__
from .config import Config, database_label, find_config, load_config
from .errors import ArchiverError, ConfigError, InvalidURL, StoreError, database_problem

F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(enum.IntEnum):
    """SPEC §3, plus 4; the table is in ``archiver --help`` and the README."""

    OK = 0  # done; some items may have failed (each says so), but not all of them
    ERROR = 1  # unexpected error (a bug): the message says how to see details
    USAGE = 2  # bad argument or config, unusable archive directory or database, archive busy
    FAIL_ON = 3  # `check --fail-on STATES`: a link is in one of them
    NOTHING_SUCCEEDED = 4  # `snapshot`, `collect`: every capture or source failed


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"archiver: {message}", err=True)
    sys.exit(code)


def _database_problem(exc: BaseException) -> str | None:
    """A message naming this command's database and what to do, or None (an error of ours: a bug)."""
    ctx = click.get_current_context(silent=True)
    config = (ctx.find_object(dict) or {}).get("config") if ctx is not None else None
    return database_problem(exc, database_label(config) if config is not None else "the database")


def handle_errors(func: F) -> F:
    """Turn library errors into a message on stderr and the exit code of SPEC §3."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArchiverError as exc:
            problem = _database_problem(exc) if isinstance(exc, StoreError) else None  # could not open it
            if problem is not None:
                _fail(problem, ExitCode.USAGE)
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:  # `archiver links | head`: the reader left, which is fine
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            sys.exit(ExitCode.OK)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except sqlite3.DatabaseError as exc:
            problem = _database_problem(exc)
            if problem is None:
                _unexpected(exc)
            _fail(problem, ExitCode.USAGE)
        except OSError as exc:
            if exc.filename is None:  # not about a file the user can fix: a network or system problem
                _unexpected(exc)
            where = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else str(exc.filename)
            _fail(f"{where}: {exc.strerror or exc}", ExitCode.USAGE)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if type(exc).__module__.split(".")[0] == "psycopg":  # a PostgreSQL archive's server (SPEC §11)
                _fail(f"the archive database (PostgreSQL): {str(exc).strip() or type(exc).__name__}; what was "
                      "being recorded was not recorded (run again)", ExitCode.ERROR)
            _unexpected(exc)

    return wrapper  # type: ignore[return-value]


def _unexpected(exc: BaseException) -> NoReturn:
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        traceback.print_exception(exc)
    _fail(f"unexpected error: {type(exc).__name__}: {exc} (run with -vv for details)", ExitCode.ERROR)


def get_config(ctx: click.Context) -> Config:
    return ctx.ensure_object(dict)["config"]  # type: ignore[no-any-return]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
@click.option("--config", "config_path", metavar="PATH",
              help="Configuration file (default: $ARCHIVER_CONFIG, else ./config.toml, else built-in defaults).")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (repeat for debug output).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("--wait", "lock_wait", type=float, default=30.0, show_default=True, metavar="SECONDS",
              callback=lambda ctx, param, value: _check_wait(value),
              help="How long to wait for another run holding the archive before giving up (exit 2).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, quiet: bool, lock_wait: float) -> None:
    """Keep the sources cited by articles and reader comments from rotting away unnoticed.

    \b
    Examples:
      archiver snapshot https://example.com/cited-page
      archiver collect article.txt
      archiver sweep && archiver report --format md

    \b
    Exit codes:
      0  done (items that failed are reported one by one)
      1  unexpected error (a bug; -vv shows the traceback)
      2  bad argument or configuration, unusable archive directory or
         database, or the archive is busy (the message says which)
      3  check --fail-on STATES: a link ended in one of those states
      4  nothing succeeded: every capture (snapshot) or source (collect) failed
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="archiver: %(message)s", stream=sys.stderr)
    config = handle_errors(_load)(config_path)
    ctx.ensure_object(dict)["config"] = config
    ctx.obj["quiet"] = quiet
    ctx.obj["lock_wait"] = lock_wait


def _check_wait(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise click.BadParameter(f"expected a finite number of seconds >= 0, got {value}", param_hint="--wait")
    return value


def _load(config_path: str | None) -> Config:
    """The configuration, with an archive directory that can be a directory."""
    config = load_config(find_config(config_path))
    where = f"{config.path}: [archive] dir" if config.path else "[archive] dir (built-in default)"
    for path in (config.archive.dir, *config.archive.dir.parents):
        if path.exists():
            if not path.is_dir():
                raise ConfigError(f"{where}: {path} is a file, not a directory" if path == config.archive.dir
                                  else f"{where}: {config.archive.dir}: {path} is a file, not a directory")
            break
    return config


def open_archive(ctx: click.Context, config: Config, what: str) -> Any:
    """The archive, locked for this command (waits up to --wait seconds for another run)."""
    from .archive import Archive

    return Archive(config, lock_wait=ctx.obj["lock_wait"], what=what)


def main() -> None:
    cli(prog_name="archiver")


# -- snapshot -------------------------------------------------------------------


def _describe_outcome(outcome: Any) -> str:
    result, saved = outcome.result, outcome.saved
    where = f"{saved.warc}:{saved.offset}" if saved.warc else "-"
    if result.error:
        got = f" after {len(result.hops)} hop(s)" if result.hops else ""
        return f"FAILED  {outcome.url}  {result.error}: {result.detail}{got}  [{outcome.state}]"
    final = result.final
    size = final.body_length if final else 0
    flags = []
    if len(result.hops) > 1:
        flags.append(f"{len(result.hops) - 1} redirect(s)")
    if final and final.truncated:
        flags.append(f"truncated ({final.truncated})")
    if saved.revisit_of:
        flags.append("unchanged: revisit record")
    extra = f"  ({', '.join(flags)})" if flags else ""
    return f"{result.status}  {result.final_url}  {size} bytes  {where}{extra}  [{outcome.state}]"


@cli.command()
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@handle_errors
def snapshot(ctx: click.Context, urls: tuple[str, ...], fmt: str) -> None:
    """Capture URL... now into the WARC store; one line per capture.

    Each line gives the HTTP status, final URL, body bytes and where the
    response record is (WARC file:offset), or the reason the capture failed.

    \b
    Examples:
      archiver snapshot https://example.com/report.pdf
      archiver snapshot --format json https://a.example/ https://b.example/x
    """
    from .progress import StageProgress
    from .capture.snapshot import check_snapshot_url, snapshot as run_snapshot

    config = get_config(ctx)
    valid, rejected = [], []
    for url in urls:
        try:
            check_snapshot_url(url)
            valid.append(url)
        except InvalidURL as exc:
            rejected.append(str(exc))
    for message in rejected:
        click.echo(f"archiver: {message}", err=True)
    outcomes = []
    if valid:
        with open_archive(ctx, config, "snapshot") as archive, StageProgress(bar=False) as progress:
            def show(outcome: Any) -> None:
                if fmt == "text":
                    click.echo(_describe_outcome(outcome))
                progress("", 1)

            progress("capturing", len(valid))
            outcomes = run_snapshot(archive, valid, on_done=show)
    if fmt == "json":
        click.echo(json.dumps([_outcome_json(o) for o in outcomes], indent=2))
    if rejected:
        sys.exit(ExitCode.USAGE)
    failed = sum(not o.ok for o in outcomes)
    if failed:
        click.echo(f"archiver: {failed} of {len(outcomes)} capture(s) failed", err=True)
        if failed == len(outcomes):
            sys.exit(ExitCode.NOTHING_SUCCEEDED)


def _outcome_json(outcome: Any) -> dict[str, Any]:
    result, saved = outcome.result, outcome.saved
    return {
        "url": outcome.url, "state": outcome.state, "http_status": result.status,
        "final_url": result.final_url, "error": result.error, "detail": result.detail or None,
        "bytes": result.final.body_length if result.final else 0,
        "truncated": result.final.truncated if result.final else None,
        "hops": [{"url": h.url, "status": h.status} for h in result.hops],
        "warc": saved.warc, "offset": saved.offset, "revisit": bool(saved.revisit_of),
    }


# -- links ----------------------------------------------------------------------


@cli.command()
@click.argument("url", required=False)
@click.option("--state", help="Only links in this state (ok, changed, moved, failing, dead, blocked, excluded, pending).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "robust-links"]), default="text",
              show_default=True,
              help="robust-links: each citation as <a href data-originalurl data-versionurl data-versiondate>.")
@click.option("--memento", type=click.Choice(["ours", "public"]), default="ours", show_default=True,
              help="robust-links: point data-versionurl at our replay ([serve] public_url) or at a public "
                   "archive's memento when one is known.")
@click.pass_context
@handle_errors
def links(ctx: click.Context, url: str | None, state: str | None, fmt: str, memento: str) -> None:
    """List links with their state and citations; with URL, one link's history.

    \b
    Examples:
      archiver links
      archiver links --state dead --format json
      archiver links https://example.com/cited-page
      archiver links --format robust-links > citations.html
    """
    from .listing import link_detail, link_rows, render_detail, render_rows
    from .models import State
    from .archive.store import Store

    config = get_config(ctx)
    if state and state not in {s.value for s in State}:
        raise click.BadParameter(f"unknown state {state!r}", param_hint="--state")
    db_path = config.archive.dir / "archive.db"
    if not config.archive.database and not db_path.exists():
        raise ArchiverError(f"{config.archive.dir}: no archive here yet (run `archiver snapshot` or `archiver sweep`)")
    with Store.open(config.archive.dir, config.archive.database) as store:
        if fmt == "robust-links":
            _print_robust_links(store, config, url, state, memento)
            return
        if url:
            detail = link_detail(store, url)
            click.echo(json.dumps(detail, indent=2) if fmt == "json" else render_detail(detail))
            return
        rows = link_rows(store, state)
        click.echo(json.dumps(rows, indent=2) if fmt == "json" else render_rows(rows))


def _print_robust_links(store: Any, config: Config, url: str | None, state: str | None, prefer: str) -> None:
    from .collect.normalize import normalize_url
    from .export.robust_links import Listing, link_robust_links, robust_links

    listing = Listing()
    snippets: Any  # a list or an iterator of RobustLink
    if url:
        row = store.link(normalize_url(url))
        if row is None:
            raise ArchiverError(f"{url}: not in the archive")
        snippets = link_robust_links(store, config.serve, int(row["id"]), prefer=prefer)
        listing.without_copy = 0 if snippets else 1
    else:
        snippets = robust_links(store, config.serve, state=state, prefer=prefer, listing=listing)
    ours = False
    for snippet in snippets:
        ours = ours or not snippet.public
        click.echo(snippet.html)
    if ours and not config.serve.public_url and not config.serve.replay_url:
        click.echo("archiver: [serve] public_url is not set: data-versionurl points at this machine's replay "
                   "(archiver serve); set it to the address others reach the workbench at", err=True)
    if listing.without_copy:
        click.echo(f"archiver: {listing.without_copy} link(s) have no stored copy yet and no snippet", err=True)


# -- collect --------------------------------------------------------------------


def _citation_line(c: Any) -> str:
    where = f"comment {c.comment}" if c.place == "comment" else "body"
    kind = c.comment_label or (c.comment_kind if c.comment_kind not in (None, "comment") else None)
    if c.place == "comment" and kind:
        where += f", {kind}"
    if c.place == "comment" and c.comment_author:
        where += f" ({c.comment_author})"
    context = (c.context or "").replace("\n", " ")
    if len(context) > 100:
        context = context[:97] + "..."
    return f"{where:<22} {c.url}\n{'':<22} {context}"


@cli.command()
@click.argument("sources", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@handle_errors
def collect(ctx: click.Context, sources: tuple[str, ...], fmt: str) -> None:
    """Harvest cited links from files, article URLs or feeds; store them; print them.

    A SOURCE is a file or glob (.html .htm .txt .md), an article URL (its body
    and reader comments), or a feed/sitemap URL (every entry's page).
    Re-collecting a source is idempotent; citations that vanished from it are
    marked removed.

    \b
    Examples:
      archiver collect article.txt
      archiver collect 'articles/**/*.html' --format json
      archiver collect https://example.com/2022/02/08/some-article/
      archiver collect https://example.com/feed/
    """
    import asyncio

    from .archive import Archive
    from .capture.fetch import Fetcher
    from .collect.harvest import Harvest, Harvester, source_for_argument

    config = get_config(ctx)
    wanted = [source_for_argument(arg) for arg in sources]

    async def run(archive: Archive) -> Harvest:
        async with Fetcher(config.fetch, temp_dir=archive.temp_dir) as fetcher:
            return await Harvester(config, archive.store, fetcher).sources(wanted, keep_going=False)

    with open_archive(ctx, config, "collect") as archive:
        harvest = asyncio.run(run(archive))
        states = {c.url: (archive.store.link(c.url) or {}).get("state") for c in harvest.citations}
    for problem in harvest.problems:
        click.echo(f"archiver: {problem.source}:{problem.position}: {problem.message}", err=True)
    if fmt == "json":
        click.echo(json.dumps([_citation_json(c, states.get(c.url)) for c in harvest.citations], indent=2))
    else:
        for collected in harvest.collected:
            mine = [c for c in harvest.citations if c.source == collected.source]
            title = f" — {collected.title}" if collected.title else ""
            click.echo(f"{collected.source}{title}: {len(mine)} citation(s)")
            for citation in mine:
                click.echo("  " + _citation_line(citation).replace("\n", "\n  "))
        click.echo(f"{len(harvest.citations)} citation(s), {harvest.new} new, {harvest.removed} removed")
    if harvest.problems and not harvest.collected:
        click.echo("archiver: nothing was collected: every source failed", err=True)
        sys.exit(ExitCode.NOTHING_SUCCEEDED)


def _citation_json(c: Any, state: str | None) -> dict[str, Any]:
    return {
        "url": c.url, "url_as_written": c.url_as_written, "source": c.source, "where": c.place,
        "comment": c.comment, "comment_author": c.comment_author, "comment_date": c.comment_date,
        "anchor": c.anchor, "context": c.context, "position": c.position, "state": state,
        "comment_kind": c.comment_kind, "comment_label": c.comment_label, "comment_parent": c.comment_parent,
        "comment_permalink": c.comment_permalink,
    }


# -- check ----------------------------------------------------------------------


def _parse_fail_on(value: str | None) -> set[str]:
    from .models import State

    if not value:
        return set()
    wanted = {v.strip() for v in value.split(",") if v.strip()}
    unknown = wanted - {s.value for s in State}
    if unknown:
        raise click.BadParameter(f"unknown state(s): {', '.join(sorted(unknown))}", param_hint="--fail-on")
    return wanted


@cli.command()
@click.argument("urls", nargs=-1, metavar="[URL...]")
@click.option("--fail-on", "fail_on", metavar="STATES", help="Exit 3 if any link ends in one of these states, e.g. dead,changed.")
@click.option("--all", "check_all", is_flag=True, help="Check every link, not only those due.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@handle_errors
def check(ctx: click.Context, urls: tuple[str, ...], fail_on: str | None, check_all: bool, fmt: str) -> None:
    """Re-check links (those due, or those given) against their stored copies.

    Prints one line per link (verdict, state, reason) and a summary by state.

    \b
    Examples:
      archiver check
      archiver check https://example.com/cited-page
      archiver check --fail-on dead,changed      # for CI: exit 3 on rot
    """
    import asyncio

    from .check.run import check_links
    from .collect.normalize import normalize_url
    from .progress import StageProgress
    from .check.states import due_cutoffs
    from .archive.store import utcnow

    config = get_config(ctx)
    failing_states = _parse_fail_on(fail_on)
    with open_archive(ctx, config, "check") as archive:
        store = archive.store
        if urls:
            rows = []
            for url in urls:
                row = store.link(normalize_url(url))
                if row is None:
                    row = store.link_by_id(store.ensure_link(normalize_url(url), url))
                rows.append(row)
        else:
            # brief rows, read a page at a time as the run goes: memory flat in the number of links
            cutoffs = due_cutoffs(config.check, utcnow())
            rows = store.iter_links() if check_all else store.iter_due_links(cutoffs)
        total = len(rows) if isinstance(rows, list) else \
            sum(store.count_by_state().values()) if check_all else store.count_due(cutoffs)
        with contextlib.ExitStack() as leases, StageProgress(bar=False) as progress:
            if config.archive.database:  # shared with `archiver worker`s: leave their hosts alone (SPEC §11)
                from .worker import stepping_aside

                rows = list(rows)  # a run by hand next to workers: its hosts are leased up front
                hosts = {str(row["host"]) for row in rows if row["host"]}
                free = leases.enter_context(stepping_aside(config, store, hosts))
                held = sorted(hosts - free)
                if held:
                    skipped = [row for row in rows if row["host"] in held]
                    rows = [row for row in rows if row["host"] not in held]
                    total = len(rows)
                    click.echo(f"archiver: note: {len(skipped)} link(s) skipped: their host is held by a live "
                               f"worker, which checks them when due: {', '.join(held[:10])}"
                               + (" ..." if len(held) > 10 else ""), err=True)

            checked = 0
            as_json = _JsonArray() if fmt == "json" else None  # written as the checks finish

            def done(outcome: Any) -> None:
                nonlocal checked
                checked += 1
                if as_json is not None:
                    as_json.add(_check_json(outcome))
                else:
                    _show_check(outcome)
                progress("", 1)

            progress("checking", total)
            try:
                asyncio.run(check_links(archive, rows, on_done=done, keep=False))
            finally:
                if as_json is not None:
                    as_json.close()
        states = store.count_by_state()
        matched = store.urls_in_states(failing_states)
    if fmt != "json":
        click.echo(f"checked {checked} link(s); links by state: "
                   + (", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "none"))
    if matched:
        click.echo(f"archiver: {len(matched)} link(s) in {', '.join(sorted(failing_states))}", err=True)
        sys.exit(ExitCode.FAIL_ON)


def _show_check(outcome: Any) -> None:
    j = outcome.judgement
    sim = f" similarity {j.similarity:.2f}" if j.similarity is not None else ""
    detail = f" ({j.detail})" if j.detail else ""
    click.echo(f"{outcome.state:<8} {outcome.url}  {j.verdict.value}: {j.reason}{sim}{detail}")


class _JsonArray:
    """A JSON array on stdout, an item at a time (as ``json.dumps(items, indent=2)`` would lay it
    out), so a long run holds no list of its outcomes; closed even when the run stops short."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, item: dict[str, Any]) -> None:
        text = json.dumps(item, indent=2).replace("\n", "\n  ")
        click.echo(("[\n  " if self.count == 0 else ",\n  ") + text, nl=False)
        self.count += 1

    def close(self) -> None:
        click.echo("\n]" if self.count else "[]")


def _check_json(outcome: Any) -> dict[str, Any]:
    j = outcome.judgement
    return {"url": outcome.url, "verdict": j.verdict.value, "reason": j.reason, "state": outcome.state,
            "previous_state": outcome.previous_state, "similarity": j.similarity, "detail": j.detail,
            "http_status": outcome.result_status, "final_url": outcome.final_url, "moved_to": j.moved_to}


# -- sweep ----------------------------------------------------------------------


@cli.command()
@click.option("--no-report", is_flag=True, help="Do not write reports at the end.")
@click.pass_context
@handle_errors
def sweep(ctx: click.Context, no_report: bool) -> None:
    """Collect from configured sources, snapshot new links, check due links, write reports.

    Safe to kill at any moment: the next sweep repairs the WARC file and goes on
    without refetching what is stored. Meant for cron:

    \b
      0 3 * * *  cd /srv/archiver && .venv/bin/archiver -q sweep
    """
    from .progress import StageProgress
    from .sweep import sweep as run_sweep

    config = get_config(ctx)
    writer = None if no_report else _report_writer(config)
    with open_archive(ctx, config, "sweep") as archive, StageProgress() as progress:
        summary = run_sweep(archive, progress=progress, write_reports=writer)
    for note in summary.all_notes():  # on stderr even with -q: cron mails it
        click.echo(f"archiver: note: {note}", err=True)
    if not ctx.obj.get("quiet"):
        click.echo("\n".join(summary.lines()))


def _report_writer(config: Config) -> Any:
    def write(archive: Any, now: Any) -> list[Path]:
        from .archive import REPORT_DIR
        from .report import write_reports

        from .review.urls import replay_base

        return write_reports(archive.store, archive.dir / REPORT_DIR, list(config.report.formats), now=now,
                             keep=config.report.keep, replay_base=replay_base(config.serve))

    return write


# -- diff -----------------------------------------------------------------------


@cli.command()
@click.argument("url")
@click.option("--against", type=click.Choice(["cited", "latest"]), default="cited", show_default=True,
              help="Compare the live page with the cited copy or with the latest stored copy.")
@click.pass_context
@handle_errors
def diff(ctx: click.Context, url: str, against: str) -> None:
    """Main-text diff between a stored copy of URL and the live page.

    \b
    Examples:
      archiver diff https://example.com/cited-page
      archiver diff https://example.com/cited-page --against latest
    """
    import asyncio
    import tempfile

    from .archive import WARC_DIR
    from .check.run import diff_live
    from .collect.normalize import normalize_url
    from .archive.store import DB_NAME, Store

    config = get_config(ctx)
    db_path = config.archive.dir / DB_NAME
    if not config.archive.database and not db_path.exists():
        raise ArchiverError(f"{config.archive.dir}: no archive here yet")
    with Store.open(config.archive.dir, config.archive.database) as store, tempfile.TemporaryDirectory() as temp:
        result = asyncio.run(diff_live(store, config.archive.dir / WARC_DIR, config, normalize_url(url), against,
                                       Path(temp)))
    click.echo(f"similarity {result.similarity:.3f} ({against} copy of {result.captured_at} vs live, "
               f"HTTP {result.status} {result.final_url})")
    click.echo(result.diff or "no difference in the main text")


# -- report ---------------------------------------------------------------------


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["html", "md", "json"]), default="md", show_default=True)
@click.option("-o", "--output", metavar="PATH", help="Write to PATH instead of stdout (- is stdout).")
@click.option("--since", metavar="WHEN",
              help="Only links whose state changed or that were checked since WHEN: a date/time (2026-11-01, "
                   "2026-11-01T03:00Z) or a duration ago (7d, 24h).")
@click.pass_context
@handle_errors
def report(ctx: click.Context, fmt: str, output: str | None, since: str | None) -> None:
    """Report what died and what drifted, with evidence and diffs.

    \b
    Examples:
      archiver report                              # Markdown on stdout
      archiver report --format html -o report.html
      archiver report --format json --since 7d
    """
    from .report import build_report, parse_since, write_report
    from .review.urls import replay_base
    from .archive.store import DB_NAME, Store

    config = get_config(ctx)
    db_path = config.archive.dir / DB_NAME
    if output == "-":  # the usual spelling of stdout, not a file named "-"
        output = None
    if output:
        parent = Path(output).parent
        if not parent.is_dir():
            raise click.BadParameter(f"{parent} is not a directory (create it first)", param_hint="-o/--output")
        if Path(output).is_dir():
            raise click.BadParameter(f"{output} is a directory; give a file name", param_hint="-o/--output")
    moment = parse_since(since) if since else None
    if not config.archive.database and not db_path.exists():
        raise ArchiverError(f"{config.archive.dir}: no archive here yet (run `archiver sweep` first)")
    with Store.open(config.archive.dir, config.archive.database) as store:
        data = build_report(store, since=moment, replay_base=replay_base(config.serve))
        write_report(data, fmt, Path(output) if output else sys.stdout)
    if output:
        click.echo(f"wrote {output}", err=True)


# -- export ---------------------------------------------------------------------


def _split_states(values: tuple[str, ...]) -> tuple[str, ...]:
    from .models import State

    wanted = tuple(dict.fromkeys(v.strip() for value in values for v in value.split(",") if v.strip()))
    unknown = set(wanted) - {s.value for s in State}
    if unknown:
        raise click.BadParameter(f"unknown state(s): {', '.join(sorted(unknown))}", param_hint="--state")
    return wanted


@cli.command()
@click.option("--wacz", "wacz_path", metavar="PATH", required=True, help="Write the WACZ package to PATH.")
@click.option("--state", "states", multiple=True, metavar="S",
              help="Only links in these states (repeat, or comma-separated: dead,changed).")
@click.option("--since", metavar="WHEN",
              help="Only links checked or changing state since WHEN (2026-11-01, or a duration ago: 7d).")
@click.option("--source", "sources", multiple=True, metavar="NAME",
              help="Only links cited by this source: its [[sources]] name, URL or path (repeatable).")
@click.option("--url", "urls", multiple=True, metavar="URL", help="Only this link (repeatable).")
@click.option("--title", help="Title of the package (shown by ReplayWeb.page).")
@click.pass_context
@handle_errors
def export(ctx: click.Context, wacz_path: str, states: tuple[str, ...], since: str | None,
           sources: tuple[str, ...], urls: tuple[str, ...], title: str | None) -> None:
    """Write a WACZ package of the stored copies of the selected links.

    One file a colleague opens in a browser with ReplayWeb.page
    (https://replayweb.page): the cited copy and latest check of every
    selected link (WARC records as stored), a CDXJ index, one page per link
    (pages/pages.jsonl) and datapackage.json with the digests.

    \b
    Examples:
      archiver export --wacz dead.wacz --state dead,changed
      archiver export --wacz article.wacz --source "my blog" --since 30d
      archiver export --wacz one.wacz --url https://example.com/cited-page
    """
    from .collect.normalize import normalize_url
    from .export.wacz import Selection, export_wacz
    from .progress import StageProgress
    from .report import parse_since
    from .archive.store import DB_NAME, Store

    config = get_config(ctx)
    wanted_states = _split_states(states)
    target = Path(wacz_path)
    if target.is_dir():
        raise click.BadParameter(f"{wacz_path} is a directory; give a file name", param_hint="--wacz")
    if not target.parent.is_dir():
        raise click.BadParameter(f"{target.parent} is not a directory (create it first)", param_hint="--wacz")
    try:
        moment = parse_since(since) if since else None
    except OverflowError:
        raise click.BadParameter(f"{since} reaches back further than any date", param_hint="--since") from None
    db_path = config.archive.dir / DB_NAME
    if not config.archive.database and not db_path.exists():
        raise ArchiverError(f"{config.archive.dir}: no archive here yet (run `archiver snapshot` or `archiver sweep`)")
    selection = Selection(states=wanted_states, since=moment, sources=sources,
                          urls=tuple(normalize_url(url) for url in urls))
    from .archive import WARC_DIR

    with Store.open(config.archive.dir, config.archive.database) as store, StageProgress() as progress:
        summary = export_wacz(store, config.archive.dir / WARC_DIR, target, selection, title=title,
                              progress=progress)
    if not ctx.obj.get("quiet"):
        click.echo("\n".join(summary.lines()))


# -- schedule -------------------------------------------------------------------


@cli.command()
@click.pass_context
@handle_errors
def schedule(ctx: click.Context) -> None:
    """Run `sweep` on the configured cron schedule ([schedule] sweep) until stopped.

    SIGINT or SIGTERM stops it cleanly after the sweep in progress. A sweep
    started by cron at the same time is never overlapped: both take the
    archive lock.

    \b
    Example:
      archiver --config /srv/archiver/config.toml schedule
    """
    from .schedule import run_schedule

    config = get_config(ctx)
    run_schedule(config, report_writer=_report_writer(config))


# -- workers (SPEC §11) ---------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, help="Stop when no due work is left (default: poll for more, forever).")
@click.option("--poll", type=click.FloatRange(min=0.1), default=30.0, show_default=True, metavar="SECONDS",
              help="Seconds between looks for new due work.")
@click.option("--lease", type=click.FloatRange(min=1.0), default=60.0, show_default=True, metavar="SECONDS",
              help="How long a claim on a host lasts unless renewed; a dead worker's hosts wait this long.")
@click.option("--hosts", type=click.IntRange(min=0), default=0, metavar="N",
              help="Hosts claimed at a time (default: [fetch] concurrency / per_host_concurrency).")
@click.option("--id", "worker_id", default="", metavar="ID", help="This worker's id (default: a new random one).")
@click.pass_context
@handle_errors
def worker(ctx: click.Context, once: bool, poll: float, lease: float, hosts: int, worker_id: str) -> None:
    """One of many sweep workers sharing a PostgreSQL archive (SPEC §11).

    Claims hosts with due work, captures their new links, checks their due
    ones, writes its own WARC files under the archive's warcs/ directory and
    records them in the database. Start as many as you like, on as many
    machines as share the archive directory and reach the database; `archiver
    sweep` then only collects and writes reports. SIGINT or SIGTERM stops it,
    releasing its hosts; a killed worker's hosts are taken over when its
    leases expire.

    \b
    Examples:
      archiver worker                 # forever, polling every 30 s
      archiver worker --once          # until nothing is due
    """
    from .worker import WorkerOptions, run_worker

    config = get_config(ctx)
    quiet = ctx.obj.get("quiet")
    stats = run_worker(config, WorkerOptions(once=once, poll=poll, lease=lease, hosts=hosts, worker_id=worker_id),
                       on_event=None if quiet else (lambda message: click.echo(message, err=True)))
    if not quiet:
        click.echo(f"{stats.captures} capture(s), {stats.checks} check(s) on {len(stats.hosts)} host(s)")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@handle_errors
def workers(ctx: click.Context, fmt: str) -> None:
    """The workers of a PostgreSQL archive: id, machine, leases, last beat, captures per minute.

    A worker silent for more than 120 s is shown as gone; a lease past its
    expiry (its worker died) is listed until another worker takes the host.

    \b
    Example:
      archiver workers --format json
    """
    from .worker import worker_table

    rows, stale = worker_table(get_config(ctx))
    if fmt == "json":
        click.echo(json.dumps({"workers": rows, "stale_leases": stale}, indent=2))
        return
    if not rows:
        click.echo("no workers")
    for row in rows:
        state = "alive" if row["alive"] else f"gone (silent {row['seconds_since_beat']:g}s)"
        click.echo(f"{row['id']}  {row['machine']} pid {row['pid']}  {state}  leases {row['leases']}  "
                   f"last beat {row['last_beat']}  {row['captures_per_minute']:g}/min  "
                   f"({row['captures']} captures, {row['checks']} checks)")
    for lease in stale:
        click.echo(f"stale lease: {lease['host']} held by {lease['worker']} (expired {lease['expires_at']})")


@cli.command()
@click.option("--to", "target", required=True, metavar="URL", help="The PostgreSQL database: postgresql://...")
@click.pass_context
@handle_errors
def migrate(ctx: click.Context, target: str) -> None:
    """Copy this SQLite archive's database into a new PostgreSQL database (SPEC §11).

    Every table is copied in one transaction and its rows counted on both
    sides. The WARC files stay where they are. Then set [archive] database
    to the URL in config.toml.

    \b
    Example:
      archiver migrate --to postgresql://archiver@db.example/archive
    """
    from .archive.store import DB_NAME, Store

    config = get_config(ctx)
    if not target.startswith(("postgresql:", "postgres:")):
        raise click.BadParameter("expected a postgresql://... URL", param_hint="--to")
    if config.archive.database:
        raise ArchiverError("[archive] database is already set: migrate copies an SQLite archive (archive.db)")
    db_path = config.archive.dir / DB_NAME
    if not db_path.exists():
        raise ArchiverError(f"{config.archive.dir}: no archive here yet")
    with open_archive(ctx, config, "migrate") as archive, Store.open(config.archive.dir, target) as into:
        counts = archive.store.copy_into(into)
    if not ctx.obj.get("quiet"):
        click.echo(", ".join(f"{table} {n}" for table, n in counts.items()))
        click.echo(f"copied and counted; now set [archive] database = \"{into.where}\" in config.toml")


# -- review ---------------------------------------------------------------------


def _reviewer(config: Config, given: str | None) -> str:
    """Who decides from the command line: --by, else [serve] reviewer, else the login name."""
    import getpass

    if given:
        return given
    if config.serve.reviewer:
        return config.serve.reviewer
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _decision_line(row: dict[str, Any]) -> str:
    target = row.get("url") or f"host {row['host']}"
    state = f"  undone {row['undone_at']} by {row['undone_by']}" if row["undone_at"] else ""
    ended = f"  (ended {row['ended_at']}: the page changed again)" if row.get("ended_at") else ""
    note = f"  — {row['note']}" if row["note"] else ""
    return f"#{row['id']:<5} {row['decided_at']}  {row['decision']:<11} {target}  by {row['decided_by']}{note}{ended}{state}"


@cli.command()
@click.argument("url", required=False)
@click.option("--host", metavar="HOST", help="Decide on every link of HOST (only with --ignore).")
@click.option("--accept", "decision", flag_value="accept", help="Accept the change: the latest capture becomes the cited copy.")
@click.option("--false-alarm", "decision", flag_value="false-alarm",
              help="The verdict is wrong: ok, and not raised again until the page changes again.")
@click.option("--ignore", "decision", flag_value="ignore", help="Never fetch the link (or the host's links) again.")
@click.option("--note", metavar="TEXT", help="Attach a note (alone, or with a decision).")
@click.option("--undo", "undo_id", type=int, metavar="ID", help="Undo decision ID: the previous state comes back.")
@click.option("--list", "list_all", is_flag=True, help="List decisions, newest first (with URL: that link's).")
@click.option("--by", "by", metavar="NAME", help="Reviewer name recorded (default: [serve] reviewer, else your login).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@handle_errors
def review(ctx: click.Context, url: str | None, host: str | None, decision: str | None, note: str | None,
           undo_id: int | None, list_all: bool, by: str | None, fmt: str) -> None:
    """Record a reviewer's decision on a link or a host; list or undo decisions (SPEC §9).

    Each decision records who and when, shows in every report format and in
    `archiver serve`, is respected by the next check and sweep, and can be
    undone (the link gets back its exact previous state, cited copy included).

    \b
    Examples:
      archiver review https://example.com/page --accept
      archiver review https://example.com/page --false-alarm --note "only the ads changed"
      archiver review --host spam.example --ignore
      archiver review https://example.com/page --note "ask the author for a new source"
      archiver review --list
      archiver review --undo 12
    """
    from .collect.normalize import normalize_url
    from .review.decisions import NOTE, decide, undo

    config = get_config(ctx)
    actions = sum(bool(x) for x in (decision, undo_id is not None, list_all))
    if actions > 1:
        raise click.UsageError("give one of --accept, --false-alarm, --ignore, --undo, --list")
    if not actions and not note:
        raise click.UsageError("nothing to do: give --accept, --false-alarm, --ignore, --note TEXT, --undo ID or --list")
    if host and url:
        raise click.UsageError("give a URL or --host, not both")
    if (decision or note) and not (url or host) and undo_id is None and not list_all:
        raise click.UsageError("a decision needs a URL (or --host HOST with --ignore)")
    with open_archive(ctx, config, "review") as archive:
        store = archive.store
        if list_all:
            link = store.link(normalize_url(url)) if url else None
            if url and link is None:
                raise ArchiverError(f"{url}: not in the archive")
            rows = store.decisions(link_id=link["id"], host=link["host"]) if link else \
                store.decisions(host=host.lower()) if host else store.decisions()
            if fmt == "json":
                click.echo(json.dumps(rows, indent=2))
            else:
                click.echo("\n".join(_decision_line(row) for row in rows) or "no decisions yet")
            return
        who = _reviewer(config, by)
        if undo_id is not None:
            row = undo(store, undo_id, by=who)
            click.echo(f"undone: {_decision_line(row)}")
            return
        target_url = normalize_url(url) if url else None
        rows = []
        if decision:
            rows.append(decide(store, decision, url=target_url, host=host, note=note, by=who))
        elif note:
            if host:
                raise click.UsageError("a note goes on a link: give its URL")
            rows.append(decide(store, NOTE, url=target_url, note=note, by=who))
        for row in rows:
            row["url"] = row.get("url") or target_url if row["link_id"] else None
            click.echo(json.dumps(row, indent=2) if fmt == "json" else f"recorded: {_decision_line(row)}")


# -- serve ----------------------------------------------------------------------


@cli.command()
@click.option("--host", metavar="HOST", help="Address to listen on (default: [serve] host, 127.0.0.1). "
              "Any other than loopback needs [serve] token.")
@click.option("--port", type=click.IntRange(1, 65535), metavar="PORT", help="Workbench port (default: [serve] port, 8080).")
@click.option("--replay-port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Replay port, another origin (default: [serve] replay_port, else PORT + 1).")
@click.pass_context
@handle_errors
def serve(ctx: click.Context, host: str | None, port: int | None, replay_port: int | None) -> None:
    """The review workbench: live report, link pages, replay, decisions, Memento (SPEC §9).

    Reads the archive while sweeps run. Archived pages replay from another
    port (another origin), so their scripts cannot reach the workbench.

    \b
    Examples:
      archiver serve                      # http://127.0.0.1:8080/, replay on 8081
      archiver serve --port 9000
      archiver serve --host 0.0.0.0       # needs [serve] token in config.toml
    """
    from gevent import monkey  # pywb's app needs gevent: patch before anything else starts

    monkey.patch_all()
    from .review.server import check_listen, run

    config = get_config(ctx)
    listen = host or config.serve.host
    check_listen(config, listen)
    port = port or config.serve.port
    rport = replay_port or (config.serve.replay_port if config.serve.replay_port else port + 1)
    if rport == port:
        raise click.BadParameter("the replay needs its own port (another origin)", param_hint="--replay-port")

    def ready(message: str) -> None:
        click.echo(message)
        sys.stdout.flush()

    run(config, listen, port, rport, ready=ready)
