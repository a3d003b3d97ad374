"""Progress bars on stderr for long work, hidden when stderr is not a terminal."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

import click


class StageProgress:
    """A click progress bar per stage: call ``(stage, total)`` to start one, ``("", 1)`` to advance."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._bar: Any = None

    def __call__(self, stage: str, count: int) -> None:
        if not self.enabled:
            return
        if stage:
            self._close()
            self._bar = click.progressbar(length=max(count, 1), label=stage.ljust(10), file=sys.stderr)
            self._bar.__enter__()
        elif self._bar is not None:
            self._bar.update(count)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close()
