"""`archiver schedule`: APScheduler runs `sweep` on the configured cron expression.

Wiring only: the sweep itself is :func:`archiver.sweep.sweep`. One sweep at a
time (``max_instances=1``, and the archive lock keeps a cron-started sweep and
this one apart: if the archive is busy the run is skipped and logged).
SIGINT/SIGTERM stop the scheduler after the sweep in progress.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from .archive import Archive
from .config import Config, database_label
from .errors import ArchiveBusy, ArchiverError, database_problem
from .sweep import sweep

log = logging.getLogger("archiver.schedule")

LOCK_WAIT = 5.0  # a scheduled sweep that finds the archive busy is skipped after this


def run_scheduled_sweep(config: Config, report_writer: Callable[..., Any] | None) -> None:
    try:
        with Archive(config, lock_wait=LOCK_WAIT, what="schedule") as archive:
            summary = sweep(archive, write_reports=report_writer)
    except ArchiveBusy as exc:
        log.warning("scheduled sweep skipped: %s", exc)
        return
    except Exception as exc:  # noqa: BLE001 - a failed sweep must not stop the schedule
        problem = database_problem(exc, database_label(config))
        if problem is None and isinstance(exc, ArchiverError):
            problem = str(exc)
        if problem is None and isinstance(exc, OSError) and exc.filename is not None:
            problem = f"{exc.filename}: {exc.strerror or exc}"
        if problem is not None:  # a problem to fix, named: no traceback
            log.error("scheduled sweep failed: %s", problem)
        else:  # a bug: the traceback helps report it
            log.exception("scheduled sweep failed")
        return
    for note in summary.all_notes():
        log.warning("%s", note)
    for line in summary.lines():
        log.info("%s", line)


def run_schedule(config: Config, *, report_writer: Callable[..., Any] | None = None) -> None:
    """Block, running sweeps on ``[schedule] sweep``, until SIGINT or SIGTERM."""
    log.setLevel(logging.INFO)
    scheduler = BlockingScheduler(timezone="UTC")
    trigger = CronTrigger.from_crontab(config.schedule.sweep, timezone="UTC")
    scheduler.add_job(run_scheduled_sweep, trigger, args=[config, report_writer], id="sweep",
                      max_instances=1, coalesce=True, misfire_grace_time=3600)

    def stop(signum: int, _frame: object) -> None:
        log.info("received %s: stopping after the sweep in progress", signal.Signals(signum).name)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log.info("schedule started: sweep on %r (UTC)", config.schedule.sweep)
    scheduler.start()
    log.info("schedule stopped")
