from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from gepad.store import tables  # noqa: F401  (registers the tables)
from gepad.store.database import connect_writer
from gepad.store.migrations import MIGRATIONS, Migration, migrate


def test_migrated_schema_matches_the_tables(tmp_path: Path) -> None:
    conn = connect_writer(tmp_path / "db.sqlite3")
    for table in SQLModel.metadata.sorted_tables:
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table.name})")}
        assert columns == {c.name for c in table.columns}, table.name
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)


def test_migrating_twice_is_a_no_op_and_newer_schemas_are_refused(tmp_path: Path) -> None:
    conn = connect_writer(tmp_path / "db.sqlite3")
    assert migrate(conn) == len(MIGRATIONS)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer than this gepad"):
        migrate(conn)


def test_a_failed_migration_leaves_nothing_behind(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    conn = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    monkeypatch.setattr("gepad.store.migrations.MIGRATIONS",
                        (Migration("0001_broken", ("CREATE TABLE a (x INTEGER)",
                                                   "CREATE TABLE a (y INTEGER)")),))
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
    assert conn.execute("PRAGMA user_version").fetchone() == (0,)


class _CrashAt:
    """A connection that dies at its ``n``-th statement, as a process killed mid-migration."""

    def __init__(self, conn: sqlite3.Connection, n: int) -> None:
        self._conn, self._left = conn, n

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if self._left == 0:
            raise KeyboardInterrupt(f"killed before {sql.strip()[:40]!r}")
        self._left -= 1
        return self._conn.execute(sql, *args)


def _statements(conn: sqlite3.Connection) -> int:
    counting = _CrashAt(conn, 10**9)
    migrate(counting)  # type: ignore[arg-type]
    return 10**9 - counting._left


def _objects(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}


def _schema_after(tmp_path: Path, steps: int, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    conn = sqlite3.connect(tmp_path / f"ref{steps}.sqlite3", isolation_level=None)
    with monkeypatch.context() as patch:
        patch.setattr("gepad.store.migrations.MIGRATIONS", MIGRATIONS[:steps])
        migrate(conn)
    return _objects(conn)


def test_a_migration_killed_at_any_statement_is_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas = [_schema_after(tmp_path, k, monkeypatch) for k in range(len(MIGRATIONS) + 1)]
    assert len({frozenset(s) for s in schemas}) == len(schemas)  # each step adds something
    total = _statements(sqlite3.connect(tmp_path / "count.sqlite3", isolation_level=None))
    for n in range(1, total):
        path = tmp_path / f"db{n}.sqlite3"
        conn = sqlite3.connect(path, isolation_level=None)
        with pytest.raises(KeyboardInterrupt):
            migrate(_CrashAt(conn, n))  # type: ignore[arg-type]
        conn.close()
        # What the next start finds: the schema version says exactly which migrations are in.
        again = sqlite3.connect(path, isolation_level=None)
        (version,) = again.execute("PRAGMA user_version").fetchone()
        assert _objects(again) == schemas[version], n
        assert migrate(again) == len(MIGRATIONS)
        again.close()


def test_a_statement_may_hold_a_semicolon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    monkeypatch.setattr("gepad.store.migrations.MIGRATIONS", (
        Migration("0001_notes", ("CREATE TABLE notes (text VARCHAR DEFAULT 'a; b')",)),
        Migration("0002_note", ("INSERT INTO notes DEFAULT VALUES",)),
    ))
    assert migrate(conn) == 2
    assert conn.execute("SELECT text FROM notes").fetchall() == [("a; b",)]


def test_steps_are_named_once_in_order() -> None:
    names = [m.name for m in MIGRATIONS]
    assert names == sorted(set(names))
    assert all(n.startswith(f"{i:04d}_") for i, n in enumerate(names, 1))
