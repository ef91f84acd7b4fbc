"""``record_feedback`` queued (the default) against the real daemon: batches, flush, a daemon
that restarts or is killed while the application keeps recording, the spool replayed by the next
client. Every event must end up stored exactly once, and each stored once in its example."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from gepad.client import AsyncClient, Client
from gepad.v1 import gepad_pb2 as pb
from tests.conftest import DaemonThread, RunningDaemon, make_settings
from tests.test_daemon import DaemonProcess

PROGRAM = "bot"


def register(client: Client) -> None:
    client.upsert_program(pb.Program(name=PROGRAM, seed_components={"system": "Be brief."}))


def fields(n: int, user: str = "alice") -> dict[str, object]:
    # Ten inputs, so events fold into examples and a double count would show in event_count.
    return dict(user_id=user, program=PROGRAM, kind="rejection", event_id=f"{user}-{n}",
                input=f"question {n % 10}", output="an answer", comment="too long")


def stored(db: Path) -> tuple[list[str], int]:
    """Every stored event id, and the events the examples say they hold."""
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT event_id FROM feedback_events")]
        (folded,) = conn.execute("SELECT coalesce(sum(event_count), 0) FROM examples").fetchone()
    return ids, folded


def test_queued_feedback_from_many_threads_is_stored_once_after_flush(
    running_daemon: RunningDaemon, tmp_path: Path,
) -> None:
    with Client(running_daemon.target, spool=tmp_path) as client:
        register(client)

        def app(user: str) -> None:
            for n in range(250):
                assert client.record_feedback(**fields(n, user)) == f"{user}-{n}"  # type: ignore[call-overload]

        threads = [threading.Thread(target=app, args=(u,)) for u in ("alice", "bob", "u1", "u2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert client.flush(timeout=30)
        ids, folded = stored(running_daemon.settings.database_path)
        assert len(ids) == len(set(ids)) == folded == 1000
        stats = client.feedback_stats
        assert (stats.queued, stats.stored, stats.rejected) == (1000, 1000, 0)
    assert not list(tmp_path.glob("spool-*.bin"))  # nothing left to replay


def test_a_refused_event_is_reported_and_the_others_stored(
    running_daemon: RunningDaemon, tmp_path: Path,
) -> None:
    with Client(running_daemon.target, spool=tmp_path) as client:
        register(client)
        client.record_feedback(**fields(1))  # type: ignore[call-overload]
        client.record_feedback(user_id="alice", program=PROGRAM, kind="rating", score=0.5,
                               event_id="no-output", input="q")
        client.record_feedback(**fields(2))  # type: ignore[call-overload]
        assert client.flush(timeout=30)
        (rejection,) = client.feedback_stats.rejections
        assert (rejection.event_id, rejection.field) == ("no-output", "event.output")
    assert sorted(stored(running_daemon.settings.database_path)[0]) == ["alice-1", "alice-2"]


@pytest.mark.anyio
async def test_the_async_client_queues_too(running_daemon: RunningDaemon, tmp_path: Path) -> None:
    async with AsyncClient(running_daemon.target, spool=tmp_path) as client:
        await client.upsert_program(
            pb.Program(name=PROGRAM, seed_components={"system": "Be brief."}))
        for n in range(300):
            await client.record_feedback(**fields(n))  # type: ignore[call-overload]
        assert await client.flush(timeout=30)
    ids, folded = stored(running_daemon.settings.database_path)
    assert len(ids) == folded == 300


def test_feedback_recorded_while_the_daemon_restarts_is_delivered_once(
    daemon_root: Path, tmp_path: Path,
) -> None:
    settings = make_settings(daemon_root)
    daemon = DaemonThread(settings)
    daemon.wait_ready()
    target = f"unix://{settings.socket_path}"
    with Client(target, spool=tmp_path, timeout=2) as client:
        register(client)
        for n in range(100):
            client.record_feedback(**fields(n))  # type: ignore[call-overload]
        assert client.flush(timeout=30)
        daemon.stop()  # an upgrade: the application keeps recording
        for n in range(100, 300):
            client.record_feedback(**fields(n))  # type: ignore[call-overload]
        assert not client.flush(timeout=0.5)
        assert client.feedback_stats.spooled > 0  # on disk while the daemon was away
        daemon = DaemonThread(settings)
        daemon.wait_ready()
        try:
            assert client.flush(timeout=30)
        finally:
            daemon.stop()
    ids, folded = stored(settings.database_path)
    assert sorted(ids) == sorted(f"alice-{n}" for n in range(300)) and folded == 300


def test_an_application_that_stops_while_the_daemon_is_down_delivers_at_its_next_start(
    daemon_root: Path, tmp_path: Path,
) -> None:
    settings = make_settings(daemon_root)
    daemon = DaemonThread(settings)
    daemon.wait_ready()
    target = f"unix://{settings.socket_path}"
    with Client(target, spool=tmp_path) as client:
        register(client)
    daemon.stop()
    with Client(target, spool=tmp_path, timeout=2) as client:
        for n in range(50):
            client.record_feedback(**fields(n))  # type: ignore[call-overload]
    # Closed with the daemon down: the events are in the spool, not lost.
    assert any(p.stat().st_size for p in tmp_path.glob("spool-*.bin"))
    daemon = DaemonThread(settings)
    daemon.wait_ready()
    try:
        with Client(target, spool=tmp_path) as client:  # replays at start, nothing recorded
            assert client.flush(timeout=30)
    finally:
        daemon.stop()
    ids, folded = stored(settings.database_path)
    assert sorted(ids) == sorted(f"alice-{n}" for n in range(50)) and folded == 50


def test_a_daemon_killed_under_a_client_library_ingest_loses_and_doubles_nothing(
    daemon_root: Path, tmp_path: Path,
) -> None:
    """SIGKILL while batches are in flight: some were committed without an answer, some not
    committed at all. The client retries and replays; event ids keep each event once."""
    daemon = DaemonProcess(daemon_root)
    daemon.start()
    total = 4000
    done = threading.Event()
    try:
        with Client(f"unix://{daemon.socket}", spool=tmp_path, timeout=5) as client:
            register(client)

            def app() -> None:
                for n in range(total):
                    client.record_feedback(**fields(n))  # type: ignore[call-overload]
                    if n % 200 == 0:
                        time.sleep(0.01)  # an application, not a firehose
                done.set()

            producer = threading.Thread(target=app)
            producer.start()
            deadline = time.monotonic() + 60
            while client.feedback_stats.stored < 500 and time.monotonic() < deadline:
                time.sleep(0.005)
            assert daemon.proc is not None
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.proc.wait()
            time.sleep(0.3)  # the application keeps recording into the queue and the spool
            daemon.start()
            producer.join(60)
            assert done.is_set()
            assert client.flush(timeout=60)
            assert client.feedback_stats.rejected == 0
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.proc.wait()
    ids, folded = stored(daemon.db)
    assert len(ids) == len(set(ids)) == total, f"{total - len(set(ids))} events lost"
    assert folded == total  # no event counted twice in its example
