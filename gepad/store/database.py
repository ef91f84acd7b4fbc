"""Opening the SQLite file: WAL, a busy timeout, durable commits, and the schema migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, event
from sqlmodel import create_engine

from gepad.private_paths import private_file
from gepad.store.migrations import migrate

__all__ = ["BUSY_TIMEOUT_MS", "connect_writer", "open_reader_engine"]

BUSY_TIMEOUT_MS = 5000


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # FULL fsyncs the WAL at every commit: an acknowledged event survives power loss, not only a
    # crash. Group commit is what keeps that affordable.
    conn.execute("PRAGMA synchronous = FULL")


def connect_writer(path: Path) -> sqlite3.Connection:
    """The one connection that writes. Autocommit mode, so the writer issues BEGIN IMMEDIATE
    itself and holds the write lock for exactly one batch."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Feedback is the users' words: the database and its journals are the daemon user's alone.
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if name == path or name.exists():
            private_file(name)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    (mode,) = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if mode.lower() != "wal":
        raise RuntimeError(f"{path}: could not enable WAL (journal_mode is {mode})")
    _configure(conn)
    migrate(conn)
    return conn


def open_reader_engine(path: Path) -> Engine:
    """sqlmodel engine for reads; WAL lets them run beside the writer without blocking it."""
    engine = create_engine(
        f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 5.0}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dbapi_conn.execute("PRAGMA query_only = ON")

    return engine
