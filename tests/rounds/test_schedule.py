from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import grpc
import pytest

from gepad.feedback.event import FeedbackEvent
from gepad.feedback.validation import validate_event
from gepad.llm import ModelSettings
from gepad.programs import EvolutionSettings, Program, ProgramRegistry
from gepad.rounds.schedule import EvolutionScheduler
from gepad.store.database import connect_writer
from gepad.store.repository import Store
from gepad.store.writer import Writer
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import DaemonThread, make_settings
from tests.doubles.openai_server import OpenAIDouble
from tests.rounds.test_manager import feed, register


def test_a_burst_of_feedback_starts_one_round(daemon_root: Path, double: OpenAIDouble) -> None:
    settings = dataclasses.replace(make_settings(daemon_root, tcp=False),
                                   evolve_debounce_seconds=0.3)
    daemon = DaemonThread(settings)
    daemon.wait_ready()
    try:
        with grpc.insecure_channel(f"unix://{settings.socket_path}") as ch:
            stub = pbg.GepadStub(ch)
            register(stub, double.api_base, evolve_after_events=20, max_iterations_per_round=1)
            feed(stub, "alice", 12)
            time.sleep(0.6)
            listed = pb.ListRunsRequest(user_id="alice", program="editor")
            assert list(stub.ListRuns(listed).runs) == []  # below the threshold: no round
            feed(stub, "bob", 3)
            for i in range(12, 30, 2):  # a burst crossing the threshold, in several calls
                stub.StreamFeedback(iter([pb.FeedbackEvent(
                    event_id=f"alice-{j}", user_id="alice", program="editor",
                    kind=pb.FEEDBACK_KIND_REJECTION, output="x", comment="no",
                    input=[pb.ChatMessage(role="user", content=f"q{j}")]) for j in (i, i + 1)]))
            deadline = time.monotonic() + 20
            runs: list[pb.Run] = []
            while time.monotonic() < deadline and not runs:
                runs = list(stub.ListRuns(listed).runs)
                time.sleep(0.1)
            time.sleep(0.5)
            runs = list(stub.ListRuns(listed).runs)
            assert [r.trigger for r in runs] == ["feedback"]
            assert list(stub.ListRuns(pb.ListRunsRequest(user_id="bob", program="editor")).runs) \
                == []
    finally:
        daemon.stop()


class RecordingEvolver:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    async def evolve(self, user_id: str, program: str, *, actor: str,
                     trigger: str = "manual") -> str:
        self.calls.append((user_id, program, trigger))
        return f"run-{len(self.calls)}"


@pytest.mark.anyio
async def test_nightly_starts_rounds_only_for_users_with_new_feedback(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    writer = Writer(connect_writer(db))
    store = Store(db, writer)
    program = Program(name="bot", seed_components={"system": "s"},
                      task_model=ModelSettings(model="openai/x"))
    programs = ProgramRegistry([program])
    evolver = RecordingEvolver()
    scheduler = EvolutionScheduler(rounds=evolver, programs=programs, store=store,
                                   nightly_cron="17 3 * * *", debounce_seconds=1)

    def event(user: str, n: int) -> FeedbackEvent:
        return FeedbackEvent(event_id=f"{user}{n}", user_id=user, program="bot",
                             kind="acceptance", output="fine", input=(("user", f"q{n}"),))

    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)
        seed = programs.seed("bot")
        assert seed is not None
        events = [validate_event(event(u, n)) for u in ("ann", "ben") for n in range(2)]
        await store.record_events(events, lambda _: seed)
        assert await scheduler.nightly() == ["run-1", "run-2"]
        assert sorted(evolver.calls) == [("ann", "bot", "schedule"), ("ben", "bot", "schedule")]

        def ran(conn: object) -> None:
            conn.execute(  # type: ignore[attr-defined]
                "INSERT INTO runs VALUES ('r1', 'ann', 'bot', 'schedule', 'succeeded', '{}', ?, ?)",
                (time.time() + 1, time.time() + 1),
            )

        await writer.submit(ran)  # type: ignore[arg-type]
        evolver.calls.clear()
        assert await scheduler.nightly() == ["run-1"]
        assert evolver.calls == [("ben", "bot", "schedule")]

        pinned = EvolutionScheduler(rounds=evolver, programs=programs, store=store,
                                    nightly_cron="17 3 * * *", debounce_seconds=1,
                                    is_pinned=lambda user, program: user == "ben")
        assert await pinned.nightly() == []  # ben's prompt is pinned: nothing to evolve
        writer.close()
    store.close()


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not condition():  # noqa: ASYNC110  (apscheduler fires on its own clock)
            await anyio.sleep(0.01)


@pytest.mark.anyio
async def test_the_event_count_starts_again_after_a_round_fires(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    writer = Writer(connect_writer(db))
    program = Program(name="bot", seed_components={"system": "s"},
                      task_model=ModelSettings(model="openai/x"),
                      evolution=EvolutionSettings(evolve_after_events=5))
    evolver = RecordingEvolver()
    scheduler = EvolutionScheduler(rounds=evolver, programs=ProgramRegistry([program]),
                                   store=Store(db, writer), nightly_cron="17 3 * * *",
                                   debounce_seconds=0.05)
    scheduler.start()
    try:
        scheduler.on_feedback("ann", "bot", 3)
        scheduler.on_feedback("ann", "bot", 2)  # the fifth event arms a round
        await until(lambda: len(evolver.calls) == 1)
        assert evolver.calls == [("ann", "bot", "feedback")]
        # One more event after the round started is one of the next five, not a sixth.
        scheduler.on_feedback("ann", "bot", 1)
        await anyio.sleep(0.5)
        assert evolver.calls == [("ann", "bot", "feedback")]
        scheduler.on_feedback("ann", "bot", 4)
        await until(lambda: len(evolver.calls) == 2)
    finally:
        scheduler.stop()
        writer.close()


@pytest.mark.anyio
async def test_a_reload_changes_the_cron_and_the_debounce(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    writer = Writer(connect_writer(db))
    program = Program(name="bot", seed_components={"system": "s"},
                      task_model=ModelSettings(model="openai/x"),
                      evolution=EvolutionSettings(evolve_after_events=1))
    evolver = RecordingEvolver()
    scheduler = EvolutionScheduler(rounds=evolver, programs=ProgramRegistry([program]),
                                   store=Store(db, writer), nightly_cron="17 3 * * *",
                                   debounce_seconds=3600)
    scheduler.start()
    try:
        first = scheduler.next_nightly()
        assert first is not None and (first.hour, first.minute) == (3, 17)
        with pytest.raises(ValueError):
            scheduler.reschedule(nightly_cron="every night", debounce_seconds=0.05)
        assert scheduler.next_nightly() == first  # a refused cron changes nothing
        scheduler.reschedule(nightly_cron="5 4 * * *", debounce_seconds=0.05)
        later = scheduler.next_nightly()
        assert later is not None and (later.hour, later.minute) == (4, 5)
        scheduler.on_feedback("ann", "bot", 1)
        # With the old debounce this would wait an hour; the new one fires it now.
        await until(lambda: len(evolver.calls) == 1)
    finally:
        scheduler.stop()
        writer.close()
