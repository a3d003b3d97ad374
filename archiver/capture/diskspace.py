"""Room on the disk that holds the archive, and the reserve one body may not eat into.

A body that would fill the disk fails its URL (``disk-full``) before the disk is
full: the last ``reserve`` bytes stay for the database and the other captures,
so one page too big for the disk never starves the rest of a run.
"""

from __future__ import annotations

import os
from pathlib import Path

RESERVE_MIN = 256 * 1024
RESERVE_MAX = 64 * 1024 * 1024
RESERVE_SHARE = 50  # 2% of the disk, within the bounds above


def room(path: Path) -> int:
    """Bytes an unprivileged writer can still add on the file system of ``path``."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def reserve(path: Path) -> int:
    """Bytes kept free for the database and the other captures on the file system of ``path``."""
    stat = os.statvfs(path)
    return min(RESERVE_MAX, max(RESERVE_MIN, stat.f_blocks * stat.f_frsize // RESERVE_SHARE))
