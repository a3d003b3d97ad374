"""Reports (SPEC §7): gather once with :func:`build_report`, render per format.

    data = build_report(store, since=None)      # every decision is taken here
    text = render(data, "html")                 # "html" | "md" | "json": layout and escaping only
    write_report(data, "html", path)            # the same, streamed to a file
    paths = write_reports(store, archive_dir / "reports", ("html", "md", "json"))

Each renderer is a function ``stream(ReportData) -> Iterator[str]`` in
``as_<format>.py``: it yields the document in pieces, so a file is written
without holding the whole text in memory. ``write_reports`` writes
``report-<UTC stamp>.<ext>`` and a ``latest.<ext>`` copy per format, each file
replaced atomically. Keep the store open until rendering is done: the list of
every link (JSON) is read from it while it is written.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from ..config import parse_duration
from ..errors import UsageError
from ..archive.store import Store, parse_iso, utcnow
from . import as_html, as_json, as_markdown
from .data import build_report
from .model import DEFAULT_REPLAY_BASE, ReportData

__all__ = ["FORMATS", "ReportData", "build_report", "parse_since", "render", "write_report", "write_reports"]

Renderer = Callable[[ReportData], Iterator[str]]
RENDERERS: dict[str, Renderer] = {"html": as_html.stream, "md": as_markdown.stream, "json": as_json.stream}
FORMATS = tuple(RENDERERS)


def _renderer(fmt: str) -> Renderer:
    try:
        return RENDERERS[fmt]
    except KeyError:
        raise UsageError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})") from None


def render(data: ReportData, fmt: str) -> str:
    """The report in format ``fmt`` (html, md or json) as one string."""
    return "".join(_renderer(fmt)(data))


def write_report(data: ReportData, fmt: str, out: Path | TextIO) -> None:
    """Stream the report in format ``fmt`` to an open text file, or atomically to the file ``out``."""
    renderer = _renderer(fmt)
    if not isinstance(out, Path):
        out.writelines(renderer(data))
        return
    temp = out.with_name(f".{out.name}.tmp")
    try:
        with open(temp, "w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(renderer(data))
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)


def _copy_atomically(source: Path, target: Path) -> None:
    temp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, temp)
    os.replace(temp, target)


def write_reports(store: Store, reports_dir: Path, formats: Iterable[str], now: datetime | None = None,
                  keep: int | None = None, replay_base: str = DEFAULT_REPLAY_BASE) -> list[Path]:
    """Write ``report-YYYYMMDDTHHMMSSZ.<fmt>`` and ``latest.<fmt>`` per format; returns the paths written.

    With ``keep``, only the newest ``keep`` timestamped reports of each format stay (``latest.*`` always).
    """
    formats = list(dict.fromkeys(formats))
    for fmt in formats:
        if fmt not in RENDERERS:
            raise UsageError(f"unknown report format {fmt!r} (known: {', '.join(FORMATS)})")
    now = now or utcnow()
    data = build_report(store, now=now, replay_base=replay_base)
    reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    written: list[Path] = []
    for fmt in formats:
        report, latest = reports_dir / f"report-{stamp}.{fmt}", reports_dir / f"latest.{fmt}"
        write_report(data, fmt, report)
        _copy_atomically(report, latest)
        written += [report, latest]
        if keep is not None:
            prune_reports(reports_dir, fmt, keep)
    return written


def prune_reports(reports_dir: Path, fmt: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` ``report-<stamp>.<fmt>`` files (names sort by time); returns those deleted."""
    dated = sorted(p for p in reports_dir.glob(f"report-*.{fmt}") if _STAMPED.fullmatch(p.name))
    doomed = dated[:-keep] if keep > 0 else dated
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


_STAMPED = re.compile(r"report-\d{8}T\d{6}Z\.\w+")


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``--since WHEN``: a duration back from now (``"36h"``, ``"7d"``) or an ISO date or time (UTC if naive)."""
    try:
        return (now or utcnow()) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    except OverflowError:  # "99999999999d": before the year 1
        raise UsageError(f"--since: {value} reaches back further than any date; give a shorter duration "
                         "or a date like 2026-11-01") from None
    try:
        moment = parse_iso(value.strip())
    except ValueError:
        raise UsageError(f"--since: expected a duration like \"7d\" or a date like 2026-11-01, got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

