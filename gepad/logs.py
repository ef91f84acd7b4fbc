"""The daemon's log: one line per meaningful event at its level, libraries' chatter kept quiet.

litellm logs each call (twice, through two loggers), apscheduler each job it adds, watchfiles
each change it sees: at the daemon's default level these would bury the lines that matter (a
round that failed and why). They show from WARNING up, or everything with ``--log-level debug``.
"""

from __future__ import annotations

import logging

__all__ = ["CHATTY_LOGGERS", "configure_logging"]

CHATTY_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "apscheduler",
                  "httpx", "httpcore", "openai", "watchfiles", "aiosqlite", "asyncio")
# grpc's aio server logs, with a traceback, a message it could not send on a stream whose
# client has gone (a WatchPrompt or WatchRun the client closed): a normal disconnect.
_GRPC_SERVER = "grpc._cython.cygrpc"


class _DisconnectFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ == "ExecuteBatchError":
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info, record.exc_text = None, None
            record.msg, record.args = "a stream's client went away before a message was sent", ()
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def configure_logging(level: str) -> None:
    """Log to stderr at ``level`` (a name: debug, info, warning, error)."""
    numeric = logging.getLevelNamesMapping()[level.upper()]
    logging.basicConfig(level=numeric,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet = numeric if numeric <= logging.DEBUG else max(numeric, logging.WARNING)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    grpc_log = logging.getLogger(_GRPC_SERVER)
    if not any(isinstance(f, _DisconnectFilter) for f in grpc_log.filters):
        grpc_log.addFilter(_DisconnectFilter())
