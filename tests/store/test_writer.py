from __future__ import annotations

import sqlite3
import threading
import time
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
        await anyio.wait_all_tasks_blocked()  # queued, but the writer is not running yet
        writer.close()
        with pytest.raises(WriterClosedError,
                           match=r"^gepad is shutting down; the write was not accepted$"):
            await writer.submit(_insert("late"))
        await writer.run()  # drains what was queued before close, then returns
    assert _names(db) == ["queued"]


async def test_a_batch_takes_at_most_batch_max_writes_and_commits_are_counted(
    tmp_path: Path,
) -> None:
    writer = Writer(connect_writer(tmp_path / "db.sqlite3"), batch_max=2)
    assert writer.commits == 0
    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(writer.submit, _insert(f"p{i}"))
        await anyio.wait_all_tasks_blocked()  # all five queued before the writer starts
        tg.start_soon(writer.run)
        await anyio.sleep(0.2)
        writer.close()
    assert writer.commits == 3  # 2 + 2 + 1
    assert _names(tmp_path / "db.sqlite3") == [f"p{i}" for i in range(5)]


class Slow:
    """A write that takes a while in the writer's thread (like a large batch) and says when it
    has started, so a test can cancel something mid-commit on any machine."""

    def __init__(self, value: str, seconds: float = 0.3) -> None:
        self.value, self.seconds = value, seconds
        self.started = threading.Event()

    def __call__(self, conn: sqlite3.Connection) -> str:
        self.started.set()
        time.sleep(self.seconds)
        return _insert(self.value)(conn)  # type: ignore[operator, no-any-return]

    async def wait_started(self) -> None:
        assert await anyio.to_thread.run_sync(self.started.wait, 10)


async def test_a_write_in_flight_completes_when_the_writer_task_is_cancelled(
    tmp_path: Path,
) -> None:
    writer = Writer(connect_writer(tmp_path / "db.sqlite3"))
    got: list[object] = []

    slow = Slow("inflight")

    async def submit() -> None:
        got.append(await writer.submit(slow))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            with anyio.CancelScope() as writer_scope:
                tg.start_soon(submit)
                async with anyio.create_task_group() as inner:
                    await inner.start(writer.run)
                    await slow.wait_started()  # the commit is under way in its thread
                    writer_scope.cancel()
    # The batch committed and its caller was woken, cancelled writer or not.
    assert got == ["inflight"]
    assert _names(tmp_path / "db.sqlite3") == ["inflight"]


async def test_a_queued_write_completes_even_if_its_caller_is_cancelled(tmp_path: Path) -> None:
    writer = Writer(connect_writer(tmp_path / "db.sqlite3"))
    got: list[object] = []
    slow = Slow("late")

    async def deadline(caller: anyio.CancelScope) -> None:
        await slow.wait_started()
        caller.cancel()  # the caller's deadline passes mid-commit

    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        with anyio.CancelScope() as caller:
            tg.start_soon(deadline, caller)
            got.append(await writer.submit(slow))
        writer.close()
    # Once queued, the write happens and the caller sees its result rather than a cancellation.
    assert got == ["late"]
    assert _names(tmp_path / "db.sqlite3") == ["late"]


async def test_writes_are_not_starved_by_a_busy_thread_pool(tmp_path: Path) -> None:
    # Readers take anyio's shared worker threads; the writer has a thread of its own.
    writer = Writer(connect_writer(tmp_path / "db.sqlite3"))
    shared = anyio.to_thread.current_default_thread_limiter()
    release = anyio.Event()

    async def hold_a_token() -> None:
        async with shared:
            await release.wait()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            await tg.start(writer.run)
            for _ in range(int(shared.total_tokens)):
                tg.start_soon(hold_a_token)
            await anyio.wait_all_tasks_blocked()
            assert shared.available_tokens == 0
            assert await writer.submit(_insert("through")) == "through"
            release.set()
            writer.close()


async def test_a_batch_whose_transaction_fails_is_rolled_back_whole_and_the_writer_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    db = tmp_path / "db.sqlite3"
    writer = Writer(connect_writer(db))
    results: dict[str, object] = {}
    hooked: list[object] = []

    def sabotage(conn: sqlite3.Connection) -> None:
        _insert("b")(conn)  # type: ignore[operator]
        conn.execute("RELEASE op")  # the writer's own RELEASE then fails: the batch cannot commit

    async def submit(name: str, op: object) -> None:
        try:
            results[name] = await writer.submit(op, after_commit=hooked.append)  # type: ignore[arg-type]
        except sqlite3.Error as exc:
            results[name] = exc

    async with anyio.create_task_group() as tg:
        tg.start_soon(submit, "a", _insert("a"))
        tg.start_soon(submit, "b", sabotage)
        await anyio.wait_all_tasks_blocked()  # both queued: one batch
        await tg.start(writer.run)
        await anyio.sleep(0.1)
        assert await writer.submit(_insert("c")) == "c"  # the writer is not stuck in the failure
        writer.close()
    assert all(isinstance(r, sqlite3.OperationalError) for r in results.values()), results
    assert hooked == []  # nothing was committed, so nothing is announced
    assert _names(db) == ["c"]
    assert caplog.messages == [
        "write batch of 2 failed and was rolled back: no such savepoint: op"]


async def test_a_failing_after_commit_hook_is_logged_and_changes_nothing_else(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    writer = Writer(connect_writer(tmp_path / "db.sqlite3"))
    hooked: list[object] = []

    def broken(result: object) -> None:
        raise RuntimeError("subscriber bug")

    def failing(conn: sqlite3.Connection) -> None:
        raise ValueError("bad write")

    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        assert await writer.submit(_insert("a"), after_commit=broken) == "a"  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="bad write"):
            await writer.submit(failing, after_commit=hooked.append)
        assert await writer.submit(_insert("b"), after_commit=hooked.append) == "b"  # type: ignore[arg-type]
        writer.close()
    assert hooked == ["b"]  # a failed write's hook never runs
    assert caplog.messages == ["after-commit hook failed"]
    assert _names(tmp_path / "db.sqlite3") == ["a", "b"]


async def test_a_full_store_is_reported_as_full_and_writes_resume_once_there_is_room(
    tmp_path: Path,
) -> None:
    from gepad.store.failures import StoreFullError

    db = tmp_path / "db.sqlite3"
    conn = connect_writer(db)
    # A real SQLITE_FULL: the database may not grow past the pages it has now.
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    writer = Writer(conn)
    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        with pytest.raises(StoreFullError,
                           match=r"^the store is full \(database or disk is full\); nothing"):
            await writer.submit(_insert("x" * 200_000))
        conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
        assert await writer.submit(_insert("after")) == "after"
        writer.close()
    assert _names(db) == ["after"]
