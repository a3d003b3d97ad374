"""Progress on stderr for long work.

On a terminal: a progress bar per stage. Otherwise (cron, a pipe, a CI log),
with ``-v``: a line every few seconds, also while nothing finishes (one URL
hanging), and one when a stage ends::

    archiver: capturing: 120/2000 done (6%), 14s
    archiver: capturing: 2000/2000 done in 41s
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from types import TracebackType
from typing import Any

import click

log = logging.getLogger("archiver.progress")

EVERY = 5.0  # seconds between progress lines when there is no progress bar


class StageProgress:
    """Call ``(stage, total)`` to start a stage, ``("", n)`` when n more items are done.

    ``bar=False`` never draws a bar (for commands whose stdout already prints a
    line per item); the lines at ``-v`` are written either way. Safe to call
    from several threads.
    """

    def __init__(self, *, bar: bool = True, every: float | None = None) -> None:
        self.enabled = bar and sys.stderr.isatty()
        self.lines = not self.enabled and log.isEnabledFor(logging.INFO)
        self.every = EVERY if every is None else every
        self._bar: Any = None
        self._lock = threading.Lock()
        self._stage = ""
        self._total = 0
        self._done = 0
        self._started = 0.0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def __call__(self, stage: str, count: int) -> None:
        if self.lines:
            self._count(stage, count)
        if not self.enabled:
            return
        if stage:
            self._close()
            self._bar = click.progressbar(length=max(count, 1), label=stage.ljust(10), file=sys.stderr)
            self._bar.__enter__()
        elif self._bar is not None:
            self._bar.update(count)

    def _count(self, stage: str, count: int) -> None:
        with self._lock:
            if stage:
                self._finish_stage()
                self._stage, self._total, self._done, self._started = stage, count, 0, time.monotonic()
                if self._ticker is None:
                    self._ticker = threading.Thread(target=self._tick, name="archiver-progress", daemon=True)
                    self._ticker.start()
            else:
                self._done += count

    def _line(self) -> str:
        share = f" ({100 * self._done // self._total}%)" if self._total else ""
        return f"{self._stage}: {self._done}/{self._total} done{share}, {time.monotonic() - self._started:.0f}s"

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            with self._lock:
                if self._stage:
                    log.info("%s", self._line())

    def _finish_stage(self) -> None:
        if self._stage:
            log.info("%s: %d/%d done in %.0fs", self._stage, self._done, self._total,
                     time.monotonic() - self._started)
            self._stage = ""

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()
        self._stop.set()
        with self._lock:
            if exc_type is None:
                self._finish_stage()
        if self._ticker is not None:
            self._ticker.join()
