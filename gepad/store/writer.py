"""The single writer: every write in the daemon goes through one task and one connection.

Writes queue up while a transaction commits; the next transaction takes all of them at once (group
commit), so one fsync covers many acknowledgements. Each write runs inside its own savepoint: a
write that fails is rolled back alone and its caller gets the exception, the rest of the batch
commits. A caller is woken only after the batch holding its write has committed.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from gepad.errors import Unavailable
from gepad.store.failures import write_failure

__all__ = ["Writer", "WriterClosedError"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class WriterClosedError(Unavailable):
    """The daemon is shutting down and takes no more writes."""


@dataclass(eq=False)
class _Pending(Generic[T]):
    op: Callable[[sqlite3.Connection], T]
    after_commit: Callable[[T], None] | None
    done: anyio.Event = field(default_factory=anyio.Event)
    result: T | None = None
    error: BaseException | None = None


class Writer:
    """The one task that writes: owns the writer connection, batches queued writes into one
    transaction each (a savepoint per write), and wakes each caller after its batch commits."""

    def __init__(self, conn: sqlite3.Connection, *, batch_max: int = 1024) -> None:
        self._conn = conn
        self._batch_max = batch_max
        send, receive = anyio.create_memory_object_stream[_Pending[Any]](max_buffer_size=65536)
        self._send: MemoryObjectSendStream[_Pending[Any]] = send
        self._receive: MemoryObjectReceiveStream[_Pending[Any]] = receive
        self._thread = anyio.CapacityLimiter(1)
        self.commits = 0

    async def submit(
        self,
        op: Callable[[sqlite3.Connection], T],
        *,
        after_commit: Callable[[T], None] | None = None,
    ) -> T:
        """Run ``op`` in the next transaction and return its result once committed.

        ``after_commit`` runs on the event loop, in commit order, before the caller wakes: the
        place to publish what the write changed (so publishing can never reorder versions).
        """
        pending = _Pending(op, after_commit)
        try:
            await self._send.send(pending)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise WriterClosedError("gepad is shutting down; the write was not accepted") from None
        # Shielded: once queued the write will happen, and a cancelled caller (deadline) must not
        # leave a half-observed result behind.
        with anyio.CancelScope(shield=True):
            await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve writes until ``close()``; everything queued before close is committed."""
        task_status.started()
        async with self._receive:
            while True:
                try:
                    first = await self._receive.receive()
                except anyio.EndOfStream:
                    return
                batch = [first]
                while len(batch) < self._batch_max:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                # Not abandoned on cancel: a cancelled writer still finishes this commit and wakes
                # its callers (no checkpoint until the next receive).
                await anyio.to_thread.run_sync(self._commit, batch, limiter=self._thread)
                for pending in batch:
                    if pending.error is None and pending.after_commit is not None:
                        try:
                            pending.after_commit(pending.result)
                        except Exception:  # a subscriber's fault must not stall writes
                            log.exception("after-commit hook failed")
                    pending.done.set()

    def close(self) -> None:
        """Stop taking writes; ``run`` returns once the queue is drained."""
        self._send.close()

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            for pending in batch:
                conn.execute("SAVEPOINT op")
                try:
                    pending.result = pending.op(conn)
                except Exception as exc:
                    if isinstance(exc, sqlite3.Error) and not conn.in_transaction:
                        # SQLite rolled the whole transaction back itself (a full disk, an I/O
                        # error): the batch's earlier writes are gone too.
                        raise
                    conn.execute("ROLLBACK TO op")
                    pending.error = write_failure(exc)
                conn.execute("RELEASE op")
            conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            log.error("write batch of %d failed and was rolled back: %s", len(batch), exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = write_failure(exc)
            for pending in batch:
                pending.result = None
                pending.error = failure
