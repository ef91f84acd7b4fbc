"""The writer's connection is opened durable: what an acknowledgement promises depends on it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from gepad.store.database import BUSY_TIMEOUT_MS, connect_writer, open_reader_engine


def test_the_writer_connection_is_durable_wal_with_a_busy_timeout(tmp_path: Path) -> None:
    conn = connect_writer(tmp_path / "state" / "db.sqlite3")
    pragma = {name: conn.execute(f"PRAGMA {name}").fetchone()[0]
              for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")}
    # synchronous 2 is FULL: the WAL is fsynced at every commit, so an acknowledged event
    # survives power loss, not only a crash of the process.
    assert pragma == {"journal_mode": "wal", "synchronous": 2,
                      "busy_timeout": BUSY_TIMEOUT_MS, "foreign_keys": 1}
    # Autocommit: the writer issues BEGIN IMMEDIATE itself.
    assert conn.isolation_level is None and not conn.in_transaction
    conn.close()


def test_readers_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    connect_writer(path).close()
    engine = open_reader_engine(path)
    with engine.connect() as reader:
        assert reader.execute(text("PRAGMA query_only")).scalar() == 1
        assert reader.execute(text("PRAGMA busy_timeout")).scalar() == BUSY_TIMEOUT_MS
    engine.dispose()
