"""One writer per archive: an advisory lock file holding the owner's PID (SPEC §8).

``sweep``, ``snapshot``, ``check``, ``collect`` and ``schedule`` take the lock; a
second run waits up to ``wait`` seconds, then gives up with
:class:`~archiver.errors.ArchiveBusy` naming the holder's PID. The lock is
``flock``-based, so it disappears with its process, even after ``kill -9``.
"""

from __future__ import annotations

import fcntl
import math
import os
import time
from pathlib import Path
from types import TracebackType

from ..errors import ArchiveBusy, UsageError

LOCK_NAME = "archive.lock"
DEFAULT_WAIT = 30.0


class ArchiveLock:
    def __init__(self, archive_dir: Path, *, wait: float = DEFAULT_WAIT, what: str = "archiver") -> None:
        if not math.isfinite(wait) or wait < 0:  # nan never reaches a deadline: it would wait forever
            raise UsageError(f"--wait: expected a finite number of seconds >= 0, got {wait}")
        self.path = archive_dir / LOCK_NAME
        self.wait = wait
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"
                    os.close(fd)
                    raise ArchiveBusy(
                        f"{self.path.parent}: the archive is in use by another archiver run ({holder}); "
                        f"waited {self.wait:g}s. Try again when it has finished."
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, {self.what}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ArchiveLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
