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
