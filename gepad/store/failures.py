"""What a failed SQLite write means to a client: a full disk or a failing device is not a bug in
the request nor in gepad, and the caller should hear that the store is full (RESOURCE_EXHAUSTED)
or cannot be written now (UNAVAILABLE), and retry; the writer keeps going and recovers by itself
once a later transaction succeeds."""

from __future__ import annotations

import sqlite3

from gepad.errors import ResourceExhausted, Unavailable

__all__ = ["StoreFullError", "StoreUnavailableError", "write_failure"]

# Primary result codes (sqlite3.h): the extended code's low byte.
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14


class StoreFullError(ResourceExhausted):
    """The disk (or the database's size limit) is full; nothing of the write was stored."""


class StoreUnavailableError(Unavailable):
    """The database file cannot be written now (an I/O error); nothing of the write was stored."""


def write_failure(exc: BaseException) -> BaseException:
    """The error to give a writer's caller for ``exc``: a full store or an I/O failure as the
    client-facing errors above, anything else unchanged."""
    if not isinstance(exc, sqlite3.Error):
        return exc
    primary = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    if primary == _SQLITE_FULL:
        failure: BaseException = StoreFullError(
            f"the store is full ({exc}); nothing was stored. gepad keeps serving prompts and "
            "takes writes again once space is freed: retry later"
        )
    elif primary in (_SQLITE_IOERR, _SQLITE_CANTOPEN):
        failure = StoreUnavailableError(
            f"the store cannot be written now ({exc}); nothing was stored: retry later"
        )
    else:
        return exc
    failure.__cause__ = exc
    return failure
