"""Batched feedback over the real daemon: RecordFeedbackBatch and IngestFeedback, their per-event
results, and the bytes-in-flight limit (ingest_max_bytes) that bounds what ingest calls hold."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import DaemonThread, RunningDaemon, make_settings

PROGRAM = "editor.system"
Stub = pbg.GepadStub


def event(id_: str, user: str = "alice", question: str = "Fix: teh cat",
          **fields: object) -> pb.FeedbackEvent:
    base: dict[str, object] = dict(
        event_id=id_, user_id=user, program=PROGRAM, kind=pb.FEEDBACK_KIND_CORRECTION,
        input=[pb.ChatMessage(role="user", content=question)],
        output="teh cat", correction="the cat", comment="typo left in",
    )
    base.update(fields)
    return pb.FeedbackEvent(**base)  # type: ignore[arg-type]


def register(stub: Stub) -> None:
    stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
        name=PROGRAM, seed_components={"system": "You are a careful editor."},
    )))


@pytest.fixture
def stub(running_daemon: RunningDaemon) -> Iterator[Stub]:
    with grpc.insecure_channel(running_daemon.target) as channel:
        stub = Stub(channel)
        register(stub)
        yield stub


def stored(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT user_id, event_id FROM feedback_events ORDER BY seq"
        ).fetchall()


def test_each_event_of_a_batch_gets_its_own_result_in_order(
    running_daemon: RunningDaemon, stub: Stub
) -> None:
    assert stub.RecordFeedback(pb.RecordFeedbackRequest(event=event("old"))).event_id == "old"
    batch = pb.FeedbackBatch(sequence=7, events=[
        event("a"),
        event("bad-score", kind=pb.FEEDBACK_KIND_RATING, score=1.5),
        event("old", comment="sent again"),
        event("b", question="another question"),
        event("a", comment="twice in one batch"),
        event("ghost", program="no-such-program"),
    ])
    result = stub.RecordFeedbackBatch(batch)
    assert result.sequence == 7
    assert [(r.event_id, r.outcome) for r in result.results] == [
        ("a", pb.EVENT_OUTCOME_STORED),
        ("bad-score", pb.EVENT_OUTCOME_INVALID),
        ("old", pb.EVENT_OUTCOME_DUPLICATE),
        ("b", pb.EVENT_OUTCOME_STORED),
        ("a", pb.EVENT_OUTCOME_DUPLICATE),
        ("ghost", pb.EVENT_OUTCOME_INVALID),
    ]
    assert (result.stored, result.duplicates, result.invalid) == (2, 2, 2)
    bad, ghost = result.results[1], result.results[5]
    assert (bad.field, bad.reason) == ("event.score", "must be within 0..1, got 1.5")
    assert ghost.field == "event.program"
    assert "'no-such-program' does not exist" in ghost.reason
    # Events on the same input fold into one example, a duplicate names the stored one's.
    a, old, b = result.results[0], result.results[2], result.results[3]
    assert a.example_id == old.example_id != b.example_id
    assert stored(running_daemon.settings.database_path) == [
        ("alice", "old"), ("alice", "a"), ("alice", "b")
    ]
    with sqlite3.connect(running_daemon.settings.database_path) as conn:
        counts = dict(conn.execute("SELECT example_id, event_count FROM examples"))
    assert counts == {a.example_id: 2, b.example_id: 1}


def test_a_batch_with_another_users_event_is_refused_whole(
    running_daemon: RunningDaemon, stub: Stub
) -> None:
    with grpc.insecure_channel(running_daemon.tcp_target) as tcp:
        bob = Stub(tcp)
        metadata = [("authorization", f"Bearer {running_daemon.user_token('bob')}")]
        with pytest.raises(grpc.RpcError) as info:
            bob.RecordFeedbackBatch(
                pb.FeedbackBatch(events=[event("b1", user="bob"), event("x", user="alice")]),
                metadata=metadata,
            )
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert stored(running_daemon.settings.database_path) == []


def test_a_batch_holds_at_most_10000_events(running_daemon: RunningDaemon, stub: Stub) -> None:
    tiny = pb.FeedbackEvent(event_id="e")
    with pytest.raises(grpc.RpcError) as info:
        stub.RecordFeedbackBatch(pb.FeedbackBatch(events=[tiny] * 10_001))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 10000 events, got 10001" in (info.value.details() or "")


def test_a_stream_of_batches_is_answered_batch_by_batch_after_each_commit(
    running_daemon: RunningDaemon, stub: Stub
) -> None:
    db = running_daemon.settings.database_path
    requests: list[pb.FeedbackBatch] = []
    ready = threading.Condition()

    def batches() -> Iterator[pb.FeedbackBatch]:
        for n in range(3):
            with ready:
                ready.wait_for(lambda n=n: len(requests) > n)  # type: ignore[misc]
                yield requests[n]

    answers = stub.IngestFeedback(batches(), timeout=30)
    seen = []
    for n in range(3):
        with ready:
            requests.append(pb.FeedbackBatch(sequence=n, events=[
                event(f"s{n}-{i}", question=f"q{n}-{i}") for i in range(100)
            ] + ([event("s0-0")] if n else [])))
            ready.notify_all()
        answer = next(answers)
        # Acknowledged means committed: another connection sees the whole batch already.
        assert len(stored(db)) == 100 * (n + 1)
        seen.append((answer.sequence, answer.stored, answer.duplicates))
    assert seen == [(0, 100, 0), (1, 100, 1), (2, 100, 1)]
    assert list(answers) == []


def test_an_invalid_event_in_a_stream_of_batches_is_reported_and_the_stream_goes_on(
    running_daemon: RunningDaemon, stub: Stub
) -> None:
    answers = list(stub.IngestFeedback(iter([
        pb.FeedbackBatch(sequence=1, events=[event("ok1"), event("no-input", input=[])]),
        pb.FeedbackBatch(sequence=2, events=[event("ok2", question="other")]),
    ]), timeout=30))
    assert [(a.sequence, a.stored, a.invalid) for a in answers] == [(1, 1, 1), (2, 1, 0)]
    assert answers[0].results[1].field == "event.input"
    assert stored(running_daemon.settings.database_path) == [("alice", "ok1"), ("alice", "ok2")]


@pytest.fixture
def small_daemon(daemon_root: Path) -> Iterator[RunningDaemon]:
    """A daemon that holds at most 256 KiB of feedback at once (and 128 KiB per message)."""
    settings = replace(make_settings(daemon_root), max_message_bytes=128 * 1024,
                       ingest_max_bytes=256 * 1024)
    thread = DaemonThread(settings)
    thread.wait_ready()
    try:
        yield RunningDaemon(settings)
    finally:
        thread.stop()


def test_a_legacy_stream_larger_than_ingest_max_bytes_is_refused_naming_the_limit(
    small_daemon: RunningDaemon,
) -> None:
    comment = "c" * 8000
    with grpc.insecure_channel(small_daemon.target) as channel:
        stub = Stub(channel)
        register(stub)
        with pytest.raises(grpc.RpcError) as info:
            stub.StreamFeedback(iter(
                event(f"e{i}", question=f"q{i}", comment=comment) for i in range(100)
            ), timeout=30)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "ingest_max_bytes" in (info.value.details() or "")
        assert "262144" in (info.value.details() or "")
        assert stored(small_daemon.settings.database_path) == []
        # The same events in batches: each batch is held alone, so the stream passes the
        # limit in total without ever holding more than one batch.
        answers = stub.IngestFeedback(iter(
            pb.FeedbackBatch(sequence=n, events=[
                event(f"e{n * 10 + i}", question=f"q{n * 10 + i}", comment=comment)
                for i in range(10)
            ]) for n in range(10)
        ), timeout=60)
        assert sum(a.stored for a in answers) == 100
    assert len(stored(small_daemon.settings.database_path)) == 100
