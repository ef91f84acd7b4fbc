from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from gepad.store.database import connect_writer
from gepad.store.writer import Writer, WriterClosedError

pytestmark = pytest.mark.anyio


def _insert(value: str) -> object:
    def op(conn: sqlite3.Connection) -> str:
        conn.execute(
            "INSERT INTO programs (name, spec_json, revision, updated_at) VALUES (?, '{}', 1, 0)",
            (value,),
        )
        return value

    return op


def _names(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM programs ORDER BY name")]


async def test_concurrent_writes_are_grouped_and_all_committed(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    writer = Writer(connect_writer(db), batch_max=64)
    order: list[str] = []
    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        async with anyio.create_task_group() as clients:
            for i in range(200):
                clients.start_soon(
                    lambda i=i: writer.submit(_insert(f"p{i:03}"), after_commit=order.append)
                )
        # Visible to a separate connection as soon as submit() returned: it was committed.
        assert len(_names(db)) == 200
        writer.close()
    assert writer.commits < 200  # group commit: fewer transactions than writes
    assert sorted(order) == [f"p{i:03}" for i in range(200)]


async def test_a_failing_write_is_rolled_back_alone(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    writer = Writer(connect_writer(db))
    results: dict[str, object] = {}

    async def submit(name: str, op: object) -> None:
        try:
            results[name] = await writer.submit(op)  # type: ignore[arg-type]
        except Exception as exc:
            results[name] = exc

    def half_then_fail(conn: sqlite3.Connection) -> None:
        _insert("half")(conn)  # type: ignore[operator]
        raise ValueError("boom")

    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        async with anyio.create_task_group() as clients:
            clients.start_soon(submit, "a", _insert("a"))
            clients.start_soon(submit, "bad", half_then_fail)
            clients.start_soon(submit, "b", _insert("b"))
        writer.close()
    assert isinstance(results["bad"], ValueError)
    assert _names(db) == ["a", "b"]


async def test_writes_after_close_are_refused_and_queued_ones_flushed(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    writer = Writer(connect_writer(db))
    async with anyio.create_task_group() as tg:
        tg.start_soon(writer.submit, _insert("queued"))
        await anyio.sleep(0.01)  # queued, but the writer is not running yet
        writer.close()
        with pytest.raises(WriterClosedError):
            await writer.submit(_insert("late"))
        await writer.run()  # drains what was queued before close, then returns
    assert _names(db) == ["queued"]
