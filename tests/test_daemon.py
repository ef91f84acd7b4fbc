"""The daemon as a separate process, the way systemd or a person runs it: `python -m gepad serve`.

Durability is checked the hard way (SIGKILL right after acknowledgements), and shutdown the polite
way (SIGTERM with a watch stream open).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from gepad.store.repository import Store
from gepad.store.writer import Writer
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import DaemonThread, make_settings


class DaemonProcess:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "run" / "gepad.sock"
        self.db = root / "state" / "gepad.sqlite3"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "GEPAD_STATE_DIR": str(self.root / "state"),
            "GEPAD_RUNTIME_DIR": str(self.root / "run"),
            "GEPAD_CONFIG": str(self.root / "gepad.toml"),
        }
        (self.root / "gepad.toml").touch()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gepad", "serve"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            if self.socket.exists():
                with grpc.insecure_channel(f"unix://{self.socket}") as ch:
                    try:
                        grpc.channel_ready_future(ch).result(timeout=1)
                        return
                    except grpc.FutureTimeoutError:
                        pass
            time.sleep(0.05)
        raise TimeoutError("daemon did not start")

    def stub(self) -> tuple[grpc.Channel, pbg.GepadStub]:
        ch = grpc.insecure_channel(f"unix://{self.socket}")
        return ch, pbg.GepadStub(ch)


@pytest.fixture
def daemon(daemon_root: Path) -> Iterator[DaemonProcess]:
    d = DaemonProcess(daemon_root)
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.proc.kill()
        d.proc.wait()


def _register(stub: pbg.GepadStub) -> None:
    stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
        name="bot", seed_components={"system": "Be kind."})))


def test_acknowledged_events_survive_sigkill(daemon: DaemonProcess) -> None:
    daemon.start()
    ch, stub = daemon.stub()
    _register(stub)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            event_id = f"c{n}-{i}"
            try:
                stub.RecordFeedback(pb.RecordFeedbackRequest(event=pb.FeedbackEvent(
                    event_id=event_id, user_id=f"user{n}", program="bot",
                    kind=pb.FEEDBACK_KIND_REJECTION,
                    input=[pb.ChatMessage(role="user", content=f"question {i}")],
                    output="an answer", comment="wrong tone",
                )), timeout=5)
            except grpc.RpcError:
                return  # the daemon died under us: unacknowledged, so no promise was made
            with lock:
                acked.append(event_id)
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    while len(acked) < 300:
        time.sleep(0.01)
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    ch.close()

    with sqlite3.connect(daemon.db) as conn:
        stored = {r[0] for r in conn.execute("SELECT event_id FROM feedback_events")}
    assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged events were lost"

    # And the daemon comes back on the same files (stale socket, WAL recovery).
    daemon.start()
    ch, stub = daemon.stub()
    reply = stub.RecordFeedback(pb.RecordFeedbackRequest(event=pb.FeedbackEvent(
        event_id=acked[0], user_id="user0", program="bot", kind=pb.FEEDBACK_KIND_REJECTION,
        input=[pb.ChatMessage(role="user", content="question 0")], output="an answer")))
    assert reply.duplicate
    ch.close()


def test_sigterm_ends_watch_streams_and_exits_cleanly(daemon: DaemonProcess) -> None:
    daemon.start()
    ch, stub = daemon.stub()
    _register(stub)
    stream = stub.WatchPrompt(pb.WatchPromptRequest(user_id="alice", program="bot"))
    assert next(stream).version == 0
    reply = stub.RecordFeedback(pb.RecordFeedbackRequest(event=pb.FeedbackEvent(
        event_id="last-words", user_id="alice", program="bot", kind=pb.FEEDBACK_KIND_ACCEPTANCE,
        input=[pb.ChatMessage(role="user", content="hi")], output="hello")))
    assert not reply.duplicate

    assert daemon.proc is not None
    started = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    # The open stream ends (cleanly or with UNAVAILABLE), it does not hang.
    with pytest.raises((StopIteration, grpc.RpcError)):
        next(stream)
    code = daemon.proc.wait(timeout=10)
    elapsed = time.monotonic() - started
    ch.close()
    assert code == 0, daemon.proc.stderr.read().decode()  # type: ignore[union-attr]
    assert elapsed < 5
    assert not daemon.socket.exists()
    with sqlite3.connect(daemon.db) as conn:
        assert conn.execute("SELECT count(*) FROM feedback_events").fetchone() == (1,)


def test_shutdown_commits_every_write_the_writer_holds(
    daemon_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streams whose events reached the writer before the stop are stored whole, even those
    queued behind a slow commit when the server's grace period ran out."""
    settings = dataclasses.replace(make_settings(daemon_root, tcp=False), grace_seconds=0.01)
    submitted = threading.Semaphore(0)
    record_events, commit = Store.record_events, Writer._commit

    async def record(self: Store, *args: Any, **kwargs: Any) -> Any:
        submitted.release()
        return await record_events(self, *args, **kwargs)

    def slow_commit(self: Writer, batch: Any) -> None:
        time.sleep(0.3)  # a slow disk: the next streams queue behind this commit
        commit(self, batch)

    monkeypatch.setattr(Store, "record_events", record)
    monkeypatch.setattr(Writer, "_commit", slow_commit)
    daemon = DaemonThread(settings)
    daemon.wait_ready()
    target = f"unix://{settings.socket_path}"
    with grpc.insecure_channel(target) as ch:
        _register(pbg.GepadStub(ch))

    def stream(user: str) -> None:
        events = [pb.FeedbackEvent(
            event_id=f"{user}{i}", user_id=user, program="bot", kind=pb.FEEDBACK_KIND_ACCEPTANCE,
            input=[pb.ChatMessage(role="user", content=f"q{i}")], output="fine",
        ) for i in range(500)]
        with grpc.insecure_channel(target) as ch, contextlib.suppress(grpc.RpcError):
            pbg.GepadStub(ch).StreamFeedback(iter(events), timeout=30)

    users = ("ann", "ben", "cat")
    threads = [threading.Thread(target=stream, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for _ in users:
        assert submitted.acquire(timeout=30)
    time.sleep(0.05)  # the last write leaves the handler for the writer's queue
    daemon.stop(timeout=30)
    for t in threads:
        t.join()
    with sqlite3.connect(settings.database_path) as conn:
        stored = dict(conn.execute("SELECT user_id, count(*) FROM feedback_events GROUP BY 1"))
    assert stored == dict.fromkeys(users, 500)


def test_a_full_store_is_reported_to_clients_and_the_daemon_recovers_when_space_returns(
    daemon: DaemonProcess,
) -> None:
    """The store's files may not grow (a file-size limit on the running daemon, the way a full
    disk stops them): feedback is refused as RESOURCE_EXHAUSTED or UNAVAILABLE saying the store
    cannot take it, prompts are still served, and once the limit is lifted writes work again."""
    import resource

    daemon.start()
    ch, stub = daemon.stub()
    _register(stub)

    def batch(tag: str, n: int) -> pb.FeedbackBatch:
        return pb.FeedbackBatch(events=[pb.FeedbackEvent(
            event_id=f"{tag}{i}", user_id="alice", program="bot", kind=pb.FEEDBACK_KIND_REJECTION,
            input=[pb.ChatMessage(role="user", content=f"question {i} " + "x" * 2000)],
            output="an answer",
        ) for i in range(n)])

    assert stub.RecordFeedbackBatch(batch("warm", 50), timeout=30).stored == 50
    assert daemon.proc is not None
    files = [daemon.db, daemon.db.with_name(daemon.db.name + "-wal")]
    largest = max(f.stat().st_size for f in files if f.exists())
    _, hard = resource.prlimit(daemon.proc.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(daemon.proc.pid, resource.RLIMIT_FSIZE, (largest + 4096, hard))
    try:
        with pytest.raises(grpc.RpcError) as info:
            stub.RecordFeedbackBatch(batch("full", 400), timeout=30)
        assert info.value.code() in (grpc.StatusCode.RESOURCE_EXHAUSTED,
                                     grpc.StatusCode.UNAVAILABLE), info.value.details()
        assert "the store" in (info.value.details() or ""), info.value.details()
        prompt = stub.GetPrompt(pb.GetPromptRequest(user_id="alice", program="bot"), timeout=5)
        assert prompt.components["system"]
    finally:
        resource.prlimit(daemon.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
    assert stub.RecordFeedbackBatch(batch("full", 400), timeout=30).stored == 400
    assert daemon.proc.poll() is None
    ch.close()
    with sqlite3.connect(daemon.db) as conn:
        (count,) = conn.execute("SELECT count(*) FROM feedback_events").fetchone()
    assert count == 450
