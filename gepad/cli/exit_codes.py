"""The CLI's exit statuses, so scripts can tell "the daemon said no" from "no daemon", and the
exception a command raises to stop with one."""

from __future__ import annotations

import enum

__all__ = ["CommandError", "ExitCode"]


class ExitCode(enum.IntEnum):
    OK = 0
    # The daemon answered with an error, or a run it reports on failed.
    FAILED = 1
    # Bad command line or input file, or a feature this daemon build does not have.
    USAGE = 2
    # No daemon answered at the target.
    UNREACHABLE = 3
    INTERRUPTED = 130
    # 128 + SIGPIPE, what a shell reports for a tool whose reader went away.
    BROKEN_PIPE = 141


class CommandError(Exception):
    """Stop the command: print ``error: <message>`` and exit with ``code``."""

    def __init__(self, message: str, code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
