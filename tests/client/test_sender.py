"""The background feedback sender against an in-memory daemon (a function answering batches the
way RecordFeedbackBatch does): batching, retries, the spool, refusals, flush and close."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest

from gepad.client.backoff import Backoff
from gepad.client.sender import FeedbackSender
from gepad.client.spool import FileSpool, MemorySpool
from gepad.v1 import gepad_pb2 as pb


class Down(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return f"{self._code.name} (test)"


class MemoryDaemon:
    """Stores each event id once, refuses events without input, and can be taken down."""

    def __init__(self) -> None:
        self.stored: list[str] = []
        self.batches: list[int] = []
        self.down: grpc.StatusCode | None = None
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, batch: pb.FeedbackBatch) -> pb.FeedbackBatchResult:
        with self.lock:
            self.calls += 1
            if self.down is not None:
                raise Down(self.down)
            self.batches.append(len(batch.events))
            result = pb.FeedbackBatchResult(sequence=batch.sequence)
            for ev in batch.events:
                if not ev.input:
                    outcome = pb.EventResult(event_id=ev.event_id,
                                             outcome=pb.EVENT_OUTCOME_INVALID,
                                             field="event.input", reason="is required")
                    result.invalid += 1
                elif ev.event_id in self.stored:
                    outcome = pb.EventResult(event_id=ev.event_id,
                                             outcome=pb.EVENT_OUTCOME_DUPLICATE)
                    result.duplicates += 1
                else:
                    self.stored.append(ev.event_id)
                    outcome = pb.EventResult(event_id=ev.event_id,
                                             outcome=pb.EVENT_OUTCOME_STORED)
                    result.stored += 1
                result.results.append(outcome)
            return result


def event(n: int, *, valid: bool = True) -> pb.FeedbackEvent:
    return pb.FeedbackEvent(
        event_id=f"e{n}", user_id="alice", program="bot", kind=pb.FEEDBACK_KIND_REJECTION,
        input=[pb.ChatMessage(role="user", content=f"q{n}")] if valid else [], output="a",
    )


def fast() -> Backoff:
    return Backoff(initial=0.01, maximum=0.05)


def test_queued_events_go_out_in_batches_and_flush_waits_for_their_acks() -> None:
    daemon = MemoryDaemon()
    sender = FeedbackSender(daemon, batch_events=100, linger=0.02, backoff=fast())
    for n in range(1000):
        sender.enqueue(event(n))
    assert sender.flush(timeout=10)
    assert daemon.stored == [f"e{n}" for n in range(1000)]  # once each, in order
    assert max(daemon.batches) == 100 and len(daemon.batches) < 1000
    assert (sender.stats.queued, sender.stats.stored) == (1000, 1000)
    assert sender.close(timeout=5)


def test_a_batch_is_cut_at_batch_bytes() -> None:
    daemon = MemoryDaemon()
    size = event(0).ByteSize()
    sender = FeedbackSender(daemon, batch_events=1000, batch_bytes=size * 10, linger=0.05)
    for n in range(50):
        sender.enqueue(event(n))
    assert sender.flush(timeout=10)
    assert max(daemon.batches) <= 10 and sum(daemon.batches) == 50
    sender.close()


@pytest.mark.parametrize("status", [grpc.StatusCode.UNAVAILABLE,
                                    grpc.StatusCode.RESOURCE_EXHAUSTED])
def test_while_the_daemon_is_down_events_are_spooled_then_delivered_once(
    status: grpc.StatusCode,
) -> None:
    daemon = MemoryDaemon()
    daemon.down = status
    spool = MemorySpool()
    sender = FeedbackSender(daemon, spool=lambda: spool, batch_events=50, backoff=fast())
    for n in range(200):
        sender.enqueue(event(n))
    assert not sender.flush(timeout=0.3)  # not acknowledged while the daemon is down
    assert spool.size() > 0 and sender.stats.spooled > 0 and sender.stats.retries > 0
    daemon.down = None
    assert sender.flush(timeout=10)
    assert sorted(daemon.stored) == sorted(f"e{n}" for n in range(200))
    assert spool.size() == 0
    sender.close()


def test_without_a_spool_events_wait_in_memory_and_are_retried() -> None:
    daemon = MemoryDaemon()
    daemon.down = grpc.StatusCode.DEADLINE_EXCEEDED
    sender = FeedbackSender(daemon, backoff=fast())
    for n in range(20):
        sender.enqueue(event(n))
    assert not sender.flush(timeout=0.2)
    daemon.down = None
    assert sender.flush(timeout=10)
    assert sorted(daemon.stored) == sorted(f"e{n}" for n in range(20))
    sender.close()


def test_a_full_queue_pushes_back_on_the_caller() -> None:
    daemon = MemoryDaemon()
    daemon.down = grpc.StatusCode.UNAVAILABLE
    sender = FeedbackSender(daemon, max_queue=10, batch_events=5, backoff=fast())
    with pytest.raises(TimeoutError, match="10 feedback events are waiting"):
        for n in range(100):
            sender.enqueue(event(n), timeout=0.2)
    daemon.down = None
    assert sender.flush(timeout=10)
    sender.close()


def test_refused_events_are_reported_and_not_retried() -> None:
    daemon = MemoryDaemon()
    sender = FeedbackSender(daemon)
    sender.enqueue(event(1))
    sender.enqueue(event(2, valid=False))
    assert sender.flush(timeout=10)
    assert [(r.event_id, r.field, r.reason) for r in sender.stats.rejections] == [
        ("e2", "event.input", "is required")
    ]
    assert daemon.stored == ["e1"]
    # A whole batch refused for good (a token that does not reach the user) is not retried.
    daemon.down = grpc.StatusCode.PERMISSION_DENIED
    sender.enqueue(event(3))
    assert sender.flush(timeout=10)
    assert sender.stats.rejected == 2 and sender.stats.rejections[-1].event_id == "e3"
    calls = daemon.calls
    sender.close()
    assert daemon.calls == calls


def test_closing_with_the_daemon_down_leaves_the_events_in_the_spool_for_the_next_start(
    tmp_path: Path,
) -> None:
    daemon = MemoryDaemon()
    daemon.down = grpc.StatusCode.UNAVAILABLE
    sender = FeedbackSender(daemon, spool=lambda: FileSpool(tmp_path), backoff=fast())
    for n in range(300):
        sender.enqueue(event(n))
    assert not sender.close(timeout=5)  # returns at once: everything is on disk
    assert daemon.stored == []
    daemon.down = None
    again = FeedbackSender(daemon, spool=lambda: FileSpool(tmp_path), replay_at_start=True,
                           backoff=fast())
    assert again.flush(timeout=10)
    assert sorted(daemon.stored) == sorted(f"e{n}" for n in range(300))
    assert again.close(timeout=5)
    assert not (tmp_path / "spool-0.bin").exists()  # an empty spool leaves no file


def test_the_file_spool_survives_a_torn_write_and_keeps_what_came_after_a_read(
    tmp_path: Path,
) -> None:
    spool = FileSpool(tmp_path)
    spool.append([event(1), event(2)])
    events, mark = spool.read()
    assert [e.event_id for e in events] == ["e1", "e2"]
    spool.append([event(3)])
    spool.consume(mark)
    assert [e.event_id for e in spool.read()[0]] == ["e3"]
    spool.append([event(4)])
    path = spool.path
    whole = path.stat().st_size
    with open(path, "ab") as f:  # a crash in the middle of an append
        f.write(b"\x00\x00\x10\x00partial")
    spool.close()
    reopened = FileSpool(tmp_path)
    assert reopened.size() == whole
    assert [e.event_id for e in reopened.read()[0]] == ["e3", "e4"]
    reopened.append([event(5)])
    assert [e.event_id for e in reopened.read()[0]] == ["e3", "e4", "e5"]
    # A second live spool in the same folder takes the next file.
    other = FileSpool(tmp_path)
    assert other.path.name == "spool-1.bin"
    other.close()
    reopened.close()


def test_the_file_spool_has_a_size_limit(tmp_path: Path) -> None:
    from gepad.client.spool import SpoolFullError

    spool = FileSpool(tmp_path, max_bytes=200)
    spool.append([event(1)])
    with pytest.raises(SpoolFullError, match="limit of 200 bytes"):
        for n in range(10):
            spool.append([event(n)])
    spool.close()
