"""Exceptions raised by archiver's library code.

A failed fetch of a cited page is never an exception: it is a result
(``models.FetchResult.error``). Exceptions are for problems with what the user
asked for or with the archive itself::

    ArchiverError                 base; the CLI maps it to exit code 1
    +-- UsageError                bad argument or input; exit code 2
    |   +-- ConfigError           bad config.toml key or value; exit code 2
    |   +-- InvalidURL            a URL that cannot be fetched (scheme, syntax)
    +-- ArchiveBusy               another run holds the archive lock; exit code 2
    +-- StoreError                the database is unusable or from a newer version
    +-- DiskFull                  no space left for the archive (WARCs, database, bodies)

The CLI (``cli.handle_errors``) also turns a damaged or unopenable SQLite
database and an ``OSError`` naming a file (a missing directory, a file where a
directory should be, no permission) into a message and exit code 2; anything
else is a bug: "unexpected error", exit code 1.
"""

from __future__ import annotations

import sqlite3


class ArchiverError(Exception):
    """Base class of every error archiver raises on purpose."""

    exit_code = 1


class UsageError(ArchiverError):
    exit_code = 2


class ConfigError(UsageError):
    pass


class InvalidURL(UsageError, ValueError):
    pass


class ArchiveBusy(ArchiverError):
    exit_code = 2


class StoreError(ArchiverError):
    pass


class DiskFull(ArchiverError):
    """No space left on the device holding ``path``; the message says where."""

    def __init__(self, path: object, what: str = "") -> None:
        self.path = str(path)
        super().__init__(f"disk full at {self.path}" + (f": {what}" if what else ""))


# sqlite3 messages that mean the database file itself is damaged or unreadable ...
_DAMAGED = ("malformed", "not a database", "disk i/o error", "file is encrypted")
# ... and those that mean it cannot be opened or written as it is.
_UNUSABLE = ("unable to open", "readonly", "database or disk is full", "locked")


def database_problem(exc: BaseException, db: str) -> str | None:
    """A message naming the database ``db`` and what to do, for an SQLite error that is
    not a bug of ours (a damaged or unopenable file); None for any other error.

    ``exc`` may be the ``sqlite3.DatabaseError`` itself or a :class:`StoreError`
    raised while handling one."""
    if isinstance(exc, StoreError):
        exc = exc.__context__  # type: ignore[assignment]
    if not isinstance(exc, sqlite3.DatabaseError):
        return None
    text = str(exc)
    if any(marker in text.lower() for marker in _DAMAGED):
        return (f"{db}: the archive database is damaged (SQLite: {text}). Stop using it until repaired: "
                f"copy it aside, then `sqlite3 {db} .recover | sqlite3 recovered.db` and put recovered.db "
                f"in its place (the WARC files are not affected), or restore it from a backup")
    if any(marker in text.lower() for marker in _UNUSABLE):
        return f"{db}: cannot use the archive database: {text}"
    return None
