"""What keeps ``Client`` and ``AsyncClient`` one API: the same methods with the same parameters,
the same requests on the wire (recorded by an interceptor on a channel the test injects), and a
channel of the caller's own that the client uses and leaves open."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf.message import Message

from gepad.client import AsyncClient, Client
from tests.client.test_client import PROGRAM, program
from tests.conftest import RunningDaemon

# Methods one client has and the other has under another name, for the same job.
RENAMED = {"close": "aclose"}


def public_methods(cls: type) -> dict[str, Any]:
    return {name: fn for name, fn in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")}


def parameters(fn: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    # Not the annotations: the async side also takes async iterables and returns awaitables.
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_both_clients_have_the_same_methods_with_the_same_parameters() -> None:
    sync, aio = public_methods(Client), public_methods(AsyncClient)
    assert {RENAMED.get(name, name) for name in sync} == set(aio)
    for name, fn in sync.items():
        twin = aio[RENAMED.get(name, name)]
        assert parameters(fn) == parameters(twin), name
        if name not in RENAMED and not isinstance(inspect.getattr_static(Client, name),
                                                  classmethod):
            assert inspect.iscoroutinefunction(twin) or inspect.isasyncgenfunction(twin), name
    assert parameters(Client.__init__) == parameters(AsyncClient.__init__)


class Recorder(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    def __init__(self) -> None:
        self.calls: list[tuple[str, Message]] = []

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any,
                              request: Message) -> Any:
        self.calls.append((details.method, request))
        return continuation(details, request)


class AsyncRecorder(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Message]] = []

    async def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any,
                                    request: Any) -> Any:
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        self.calls.append((method, request))
        return await continuation(details, request)


def feedback(event_id: str) -> dict[str, Any]:
    return dict(user_id="alice", program=PROGRAM, kind="correction", event_id=event_id,
                input="Fix: teh cat", output="teh cat", correction="the cat")


@pytest.mark.anyio
async def test_both_clients_send_the_same_requests_over_a_channel_of_the_callers_own(
    running_daemon: RunningDaemon,
) -> None:
    recorder = Recorder()
    channel = grpc.intercept_channel(grpc.insecure_channel(running_daemon.target), recorder)
    with Client("unused:1", channel=channel) as client:
        client.upsert_program(program())
        client.get_program(PROGRAM)
        client.record_feedback(**feedback("e1"), wait=True)
        client.fetch_prompt("alice", PROGRAM)
        client.list_lineage("alice", PROGRAM)
        client.list_runs("alice", PROGRAM, limit=3)
        client.get_frontier("alice", PROGRAM)
    # The client leaves a channel it was given open: it still works after the block.
    assert client.get_program(PROGRAM).name == PROGRAM
    channel.close()

    async_recorder = AsyncRecorder()
    async_channel = grpc.aio.insecure_channel(running_daemon.target,
                                              interceptors=[async_recorder])
    async with AsyncClient("unused:1", channel=async_channel) as aclient:
        await aclient.upsert_program(program())
        await aclient.get_program(PROGRAM)
        await aclient.record_feedback(**feedback("e1"), wait=True)
        await aclient.fetch_prompt("alice", PROGRAM)
        await aclient.list_lineage("alice", PROGRAM)
        await aclient.list_runs("alice", PROGRAM, limit=3)
        await aclient.get_frontier("alice", PROGRAM)
    async with AsyncClient("unused:1", channel=async_channel) as again:
        assert (await again.get_program(PROGRAM)).name == PROGRAM
    await async_channel.close(None)

    assert [m for m, _ in recorder.calls][:7] == [m for m, _ in async_recorder.calls][:7] == [
        "/gepad.v1.Gepad/UpsertProgram", "/gepad.v1.Gepad/GetProgram",
        "/gepad.v1.Gepad/RecordFeedback", "/gepad.v1.Gepad/GetPrompt",
        "/gepad.v1.Gepad/ListLineage", "/gepad.v1.Gepad/ListRuns",
        "/gepad.v1.Gepad/GetFrontier",
    ]
    assert [r for _, r in recorder.calls] == [r for _, r in async_recorder.calls]
