"""The sync and async clients against the real daemon (``running_daemon`` in tests/conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import grpc
import pytest

from gepad.client import (
    AsyncClient,
    Client,
    GepadError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PromptCache,
    Unauthenticated,
    Unavailable,
)
from gepad.v1 import gepad_pb2 as pb
from tests.conftest import DaemonThread, RunningDaemon, make_settings

PROGRAM = "editor.system"
SEED = "You are a careful editor."


def program(name: str = PROGRAM, seed: str = SEED) -> pb.Program:
    return pb.Program(
        name=name, seed_components={"system": seed},
        task_model=pb.ModelSettings(model="openai/gpt-4o-mini", api_key_env="OPENAI_API_KEY"),
    )


@pytest.fixture
def client(running_daemon: RunningDaemon) -> Iterator[Client]:
    with Client(running_daemon.target) as c:
        c.upsert_program(program())
        yield c


def edit(client: Client, event_id: str, text: str, user: str = "alice") -> None:
    client.record_feedback(
        wait=True, user_id=user, program=PROGRAM, kind="prompt_edit", event_id=event_id,
        edited_components={"system": text},
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- async client


@pytest.mark.anyio
async def test_async_client_round_trip(running_daemon: RunningDaemon) -> None:
    async with AsyncClient(running_daemon.target) as client:
        created = await client.upsert_program(program())
        assert created.created and created.program.revision == 1
        assert [p.name for p in (await client.list_programs()).programs] == [PROGRAM]

        recorded = await client.record_feedback(
            wait=True, user_id="alice", program=PROGRAM, kind="correction", event_id="e1",
            input="Fix: teh cat", output="teh cat", correction="the cat", comment="typo",
        )
        assert recorded.event_id == "e1" and not recorded.duplicate and recorded.example_id
        again = await client.record_feedback(
            wait=True, user_id="alice", program=PROGRAM, kind="correction", event_id="e1",
            input="Fix: teh cat", output="teh cat", correction="the cat",
        )
        assert again.duplicate

        prompt = await client.get_prompt("alice", PROGRAM)
        assert prompt.components["system"] == SEED and prompt.version == 0

        await client.record_feedback(
            wait=True, user_id="alice", program=PROGRAM, kind="prompt_edit", event_id="edit-1",
            edited_components={"system": "Fix typos only."},
        )
        edited = await client.fetch_prompt("alice", PROGRAM)
        assert edited.components["system"] == "Fix typos only." and edited.version == 1

        lineage = await client.list_lineage("alice", PROGRAM)
        origins = {c.id: c.origin for c in lineage.candidates}
        assert origins[edited.candidate_id] == pb.CANDIDATE_ORIGIN_HUMAN_EDIT
        seed_id = next(i for i, o in origins.items() if o == pb.CANDIDATE_ORIGIN_SEED)

        rolled = await client.rollback("alice", PROGRAM, seed_id, note="too terse")
        assert rolled.pinned and rolled.candidate_id == seed_id
        # Rollback updates the cache: get_prompt sees it without waiting for max_age.
        assert (await client.get_prompt("alice", PROGRAM)).candidate_id == seed_id
        unpinned = await client.unpin("alice", PROGRAM)
        assert not unpinned.pinned


@pytest.mark.anyio
async def test_async_stream_feedback_is_all_or_nothing(running_daemon: RunningDaemon) -> None:
    async with AsyncClient(running_daemon.target) as client:
        await client.upsert_program(program())
        good = {"user_id": "bob", "program": PROGRAM, "kind": "acceptance", "event_id": "s1",
                "input": [{"role": "user", "content": "hi"}], "output": "hello"}
        bad = {**good, "event_id": "s2", "kind": "rating", "score": 7}
        with pytest.raises(InvalidArgument, match="score"):
            await client.stream_feedback([good, bad])
        # An event the client cannot even build: ValueError, the call cancelled, nothing stored.
        typo = {**good, "event_id": "s4", "scor": 1}
        with pytest.raises(ValueError, match="unknown field"):
            await client.stream_feedback([good, typo])

        async def generated() -> AsyncIterator[dict[str, object]]:
            for event_id in ("s1", "s3"):
                yield {**good, "event_id": event_id}

        result = await client.stream_feedback(generated())
        # s1 was kept from neither failure.
        assert (result.stored, result.duplicates) == (2, 0)


@pytest.mark.anyio
async def test_async_watch_prompt_sees_changes_and_fills_cache(
    running_daemon: RunningDaemon,
) -> None:
    async with AsyncClient(running_daemon.target) as client:
        await client.upsert_program(program())
        seen: list[pb.Prompt] = []
        subscribed = anyio.Event()
        async with anyio.create_task_group() as tg:

            async def watch() -> None:
                async for prompt in client.watch_prompt("carol", PROGRAM):
                    seen.append(prompt)
                    subscribed.set()
                    if len(seen) == 2:
                        return

            tg.start_soon(watch)
            with anyio.fail_after(10):
                await subscribed.wait()
                await client.record_feedback(
                    wait=True, user_id="carol", program=PROGRAM, kind="prompt_edit", event_id="w1",
                    edited_components={"system": "Watched edit."},
                )
        assert [p.version for p in seen] == [0, 1]
        assert seen[1].components["system"] == "Watched edit."
        cached = client.cache.get("carol", PROGRAM)
        assert cached is not None and cached.prompt.version == 1


@pytest.mark.anyio
async def test_async_stale_prompt_is_revalidated_in_background(
    running_daemon: RunningDaemon,
) -> None:
    clock = Clock()
    cache = PromptCache(max_age=5, stale_max_age=60, clock=clock)
    async with AsyncClient(running_daemon.target, cache=cache) as client, \
            AsyncClient(running_daemon.target) as other:
        await client.upsert_program(program())
        first = await client.get_prompt("u1", PROGRAM)
        # Another client changes the prompt; ours does not know yet.
        await other.record_feedback(
            wait=True, user_id="u1", program=PROGRAM, kind="prompt_edit", event_id="swr",
            edited_components={"system": "Changed elsewhere."},
        )
        clock.now = 30
        stale = await client.get_prompt("u1", PROGRAM)
        assert stale.version == first.version == 0
        # The refresh runs in the client's task group; give it a moment.
        for _ in range(500):
            entry = cache.get("u1", PROGRAM)
            if entry is not None and entry.prompt.version == 1:
                break
            await anyio.sleep(0.01)
        fresh = await client.get_prompt("u1", PROGRAM)
        assert fresh.version == 1 and fresh.components["system"] == "Changed elsewhere."


@pytest.mark.anyio
async def test_async_client_must_be_entered() -> None:
    client = AsyncClient("unix:///nonexistent/gepad.sock")
    with pytest.raises(RuntimeError, match="async with"):
        await client.get_prompt("alice", PROGRAM)


# ---------------------------------------------------------------- fallback and errors


@pytest.mark.anyio
async def test_fallback_when_daemon_is_down(daemon_root: Path) -> None:
    target = f"unix://{daemon_root}/missing.sock"
    async with AsyncClient(target, timeout=2) as client:
        prompt = await client.get_prompt("alice", PROGRAM, fallback="Be helpful.")
        assert prompt.components["system"] == "Be helpful." and prompt.candidate_id == ""
        with pytest.raises(Unavailable):
            await client.get_prompt("alice", PROGRAM)
    # Errors leave the block as themselves, not wrapped in an ExceptionGroup.
    with pytest.raises(Unavailable):
        async with AsyncClient(target, timeout=2) as client:
            await client.list_programs()
    with Client(target, timeout=2) as sync:
        prompt = sync.get_prompt("alice", PROGRAM, fallback={"system": "Be helpful."})
        assert prompt.components["system"] == "Be helpful."
        with pytest.raises(Unavailable) as info:
            sync.list_programs()
        assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_last_known_prompt_outlives_the_daemon(
    running_daemon: RunningDaemon, client: Client, daemon_root: Path
) -> None:
    clock = Clock()
    cache = PromptCache(max_age=5, stale_max_age=60, clock=clock)
    with Client(running_daemon.target, cache=cache) as live:
        served = live.get_prompt("alice", PROGRAM)
    clock.now = 10_000
    # Same cache, daemon gone: the user's own prompt, not the generic fallback.
    with Client(f"unix://{daemon_root}/missing.sock", cache=cache, timeout=2) as dead:
        prompt = dead.get_prompt("alice", PROGRAM, fallback="generic")
    assert prompt.candidate_id == served.candidate_id


def test_errors_carry_status_and_server_message(client: Client) -> None:
    with pytest.raises(NotFound) as info:
        client.get_prompt("alice", "no.such.program")
    assert info.value.code == grpc.StatusCode.NOT_FOUND
    assert "no.such.program" in info.value.message
    assert str(info.value).startswith("NOT_FOUND: ")
    with pytest.raises(InvalidArgument, match="user_id"):
        client.fetch_prompt("", PROGRAM)
    with pytest.raises(ValueError, match="unknown feedback kind"):
        client.record_feedback(user_id="alice", program=PROGRAM, kind="thumbs-up")


def test_tcp_tokens_are_sent_and_scoped(running_daemon: RunningDaemon, client: Client) -> None:
    tcp = running_daemon.tcp_target
    with Client(tcp, token=running_daemon.admin_token) as admin:
        assert admin.list_programs().programs
    with Client(tcp, token=running_daemon.user_token("alice")) as alice:
        assert alice.get_prompt("alice", PROGRAM).components["system"] == SEED
        with pytest.raises(PermissionDenied):
            alice.fetch_prompt("bob", PROGRAM)
    with Client(tcp) as anonymous, pytest.raises(Unauthenticated):
        anonymous.list_programs()
    with Client(tcp, token="wrong") as wrong, pytest.raises(GepadError) as info:
        wrong.list_programs()
    assert info.value.status == "UNAUTHENTICATED"


def test_from_settings_uses_the_unix_socket(running_daemon: RunningDaemon, client: Client) -> None:
    with Client.from_settings(running_daemon.settings) as c:
        assert c.target == running_daemon.target
        assert [p.name for p in c.list_programs().programs] == [PROGRAM]


# ---------------------------------------------------------------- sync client


def test_sync_feedback_stream_and_lineage(client: Client) -> None:
    events = [
        pb.FeedbackEvent(
            event_id=f"b{i}", user_id="bob", program=PROGRAM, kind=pb.FEEDBACK_KIND_RATING,
            input=[pb.ChatMessage(role="user", content=f"q{i}")], output="a", score=0.5,
        )
        for i in range(3)
    ]
    assert client.stream_feedback(iter(events)).stored == 3
    assert client.stream_feedback(events).duplicates == 3
    with pytest.raises(ValueError, match="unknown field"):
        client.stream_feedback([{"user_id": "bob", "program": PROGRAM, "kind": "rating",
                                 "scor": 1}])
    edit(client, "bob-edit", "Edited by Bob.", user="bob")
    lineage = client.list_lineage("bob", PROGRAM)
    assert len(lineage.candidates) == 2
    assert [h.reason for h in lineage.history] == ["human_edit"]


def test_sync_watch_prompt_yields_current_then_changes(client: Client) -> None:
    watch = client.watch_prompt("alice", PROGRAM)
    first = next(watch)
    assert first.version == 0
    done = threading.Event()

    def change() -> None:
        edit(client, "watch-edit", "Changed while watched.")
        done.set()

    threading.Thread(target=change).start()
    second = next(watch)
    watch.close()
    assert done.wait(5)
    assert second.version == 1 and second.components["system"] == "Changed while watched."
    cached = client.cache.get("alice", PROGRAM)
    assert cached is not None and cached.prompt.version == 1


def test_sync_watch_reconnects_when_the_daemon_restarts(daemon_root: Path) -> None:
    settings = make_settings(daemon_root, tcp=False)
    daemon = DaemonThread(settings)
    daemon.wait_ready()
    try:
        with Client.from_settings(settings) as client:
            client.upsert_program(program())
            watch = client.watch_prompt("alice", PROGRAM)
            assert next(watch).version == 0
            daemon.stop()
            daemon = DaemonThread(settings)
            daemon.wait_ready()
            edit(client, "after-restart", "Edited while the watch was away.")
            changed = next(watch)
            watch.close()
        assert changed.version == 1
        assert changed.components["system"] == "Edited while the watch was away."
    finally:
        daemon.stop()
