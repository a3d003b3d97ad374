"""Command line: parse, build a Config, call one library function, map errors to exit codes."""

from __future__ import annotations

import enum
import json
import logging
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .config import Config, find_config, load_config
from .errors import ArchiverError, InvalidURL

F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    FAIL_ON = 3


def _fail(message: str, code: int) -> None:
    click.echo(f"archiver: {message}", err=True)
    sys.exit(code)


def handle_errors(func: F) -> F:
    """Turn library errors into a message on stderr and the exit code of SPEC §3."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArchiverError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if logging.getLogger().isEnabledFor(logging.DEBUG):
                traceback.print_exc()
            _fail(f"unexpected error: {type(exc).__name__}: {exc} (run with -v for details)", ExitCode.ERROR)

    return wrapper  # type: ignore[return-value]


def get_config(ctx: click.Context) -> Config:
    return ctx.ensure_object(dict)["config"]  # type: ignore[no-any-return]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
@click.option("--config", "config_path", metavar="PATH",
              help="Configuration file (default: $ARCHIVER_CONFIG, else ./config.toml, else built-in defaults).")
@click.option("-v", "--verbose", count=True, help="More detail on stderr (repeat for debug output).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, quiet: bool) -> None:
    """Keep the sources cited by articles and reader comments from rotting away unnoticed.

    \b
    Examples:
      archiver snapshot https://example.com/cited-page
      archiver collect article.txt
      archiver sweep && archiver report --format md
    """
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="archiver: %(message)s", stream=sys.stderr)
    try:
        config = load_config(find_config(config_path))
    except ArchiverError as exc:
        _fail(str(exc), exc.exit_code)
    ctx.ensure_object(dict)["config"] = config
    ctx.obj["quiet"] = quiet


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
    from .archive import Archive
    from .snapshot import check_snapshot_url, snapshot as run_snapshot

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
        with Archive(config, what="snapshot") as archive:
            def show(outcome: Any) -> None:
                if fmt == "text":
                    click.echo(_describe_outcome(outcome))

            outcomes = run_snapshot(archive, valid, on_done=show)
    if fmt == "json":
        click.echo(json.dumps([_outcome_json(o) for o in outcomes], indent=2))
    if rejected:
        sys.exit(ExitCode.USAGE)


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
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@handle_errors
def links(ctx: click.Context, url: str | None, state: str | None, fmt: str) -> None:
    """List links with their state and citations; with URL, one link's history.

    \b
    Examples:
      archiver links
      archiver links --state dead --format json
      archiver links https://example.com/cited-page
    """
    from .listing import link_detail, link_rows, render_detail, render_rows
    from .models import State
    from .store import Store

    config = get_config(ctx)
    if state and state not in {s.value for s in State}:
        raise click.BadParameter(f"unknown state {state!r}", param_hint="--state")
    db_path = config.archive.dir / "archive.db"
    if not db_path.exists():
        raise ArchiverError(f"{config.archive.dir}: no archive here yet (run `archiver snapshot` or `archiver sweep`)")
    with Store(db_path) as store:
        if url:
            detail = link_detail(store, url)
            click.echo(json.dumps(detail, indent=2) if fmt == "json" else render_detail(detail))
            return
        rows = link_rows(store, state)
        click.echo(json.dumps(rows, indent=2) if fmt == "json" else render_rows(rows))


def _path(value: str) -> Path:
    return Path(value)
