"""Who may call what, for every RPC of gepad.v1.Gepad, over real TCP with bearer tokens.

The table below is checked against the proto's service descriptor: an RPC added to the proto and
not to the table fails ``test_every_rpc_is_in_the_access_table``, so a new method cannot slip in
without its access rule being tested.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import grpc
import pytest

from gepad.rpc import access, handlers
from gepad.rpc.auth import Authenticator
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import DaemonThread, RunningDaemon, make_settings, short_tempdir
from tests.doubles.openai_server import OpenAIDouble

PROGRAM = "editor"
SERVICE = pb.DESCRIPTOR.services_by_name["Gepad"]


@dataclass(frozen=True)
class Rule:
    """How one RPC treats a caller who is not the owner of the data it names."""

    request: Callable[[World], object]  # builds a request naming alice's data
    foreign: grpc.StatusCode | None  # bob's token on alice's data; None: allowed (global data)
    admin_only: bool = False  # not even alice's own token may call it
    # What bob sends, when it is not simply alice's request.
    foreign_request: Callable[[World], object] | None = None


def _alice_event(event_id: str) -> pb.FeedbackEvent:
    return pb.FeedbackEvent(
        event_id=event_id, user_id="alice", program=PROGRAM, kind=pb.FEEDBACK_KIND_REJECTION,
        input=[pb.ChatMessage(role="user", content="hello")], output="hi", comment="rude",
    )


def _bob_event(event_id: str) -> pb.FeedbackEvent:
    event = _alice_event(event_id)
    event.user_id = "bob"
    return event


DENIED = grpc.StatusCode.PERMISSION_DENIED
RULES: dict[str, Rule] = {
    "UpsertProgram": Rule(lambda w: pb.UpsertProgramRequest(program=pb.Program(
        name=PROGRAM, seed_components={"system": "hijacked"})), DENIED, admin_only=True),
    "GetProgram": Rule(lambda w: pb.GetProgramRequest(name=PROGRAM), None),
    "ListPrograms": Rule(lambda w: pb.ListProgramsRequest(), None),
    "RecordFeedback": Rule(lambda w: pb.RecordFeedbackRequest(event=_alice_event("x1")), DENIED),
    # Bob's own event first, then one of alice's: the stream is refused whole.
    "StreamFeedback": Rule(lambda w: [_alice_event("x2")], DENIED,
                           foreign_request=lambda w: [_bob_event("b1"), _alice_event("x2")]),
    "GetPrompt": Rule(lambda w: pb.GetPromptRequest(user_id="alice", program=PROGRAM), DENIED),
    "WatchPrompt": Rule(lambda w: pb.WatchPromptRequest(user_id="alice", program=PROGRAM),
                        DENIED),
    "ListLineage": Rule(lambda w: pb.ListLineageRequest(user_id="alice", program=PROGRAM),
                        DENIED),
    "Rollback": Rule(lambda w: pb.RollbackRequest(user_id="alice", program=PROGRAM,
                                                  candidate_id=w.seed_id), DENIED),
    "Unpin": Rule(lambda w: pb.UnpinRequest(user_id="alice", program=PROGRAM), DENIED),
    "Evolve": Rule(lambda w: pb.EvolveRequest(user_id="alice", program=PROGRAM), DENIED),
    # Another user's run is reported missing: its id tells the caller nothing.
    "GetRun": Rule(lambda w: pb.GetRunRequest(run_id=w.alice_run), grpc.StatusCode.NOT_FOUND),
    "ListRuns": Rule(lambda w: pb.ListRunsRequest(user_id="alice", program=PROGRAM), DENIED),
    "WatchRun": Rule(lambda w: pb.WatchRunRequest(run_id=w.alice_run), grpc.StatusCode.NOT_FOUND),
    "GetFrontier": Rule(lambda w: pb.GetFrontierRequest(user_id="alice", program=PROGRAM),
                        DENIED),
    "GetRubric": Rule(lambda w: pb.GetRubricRequest(user_id="alice", program=PROGRAM), DENIED),
    "ListAdapters": Rule(lambda w: pb.ListAdaptersRequest(), DENIED, admin_only=True),
}


def test_every_rpc_is_in_the_access_table() -> None:
    assert set(RULES) == {m.name for m in SERVICE.methods}


@dataclass
class World:
    daemon: RunningDaemon
    tcp: grpc.Channel
    alice_run: str
    admin: pbg.GepadStub
    seed_id: str  # alice's seed candidate, a node she can roll back to

    def call(self, method: str, token: str | None, *, foreign: bool = False) -> object:
        """Calls ``method`` with alice's request (bob's, when ``foreign``); streams are read to
        their first message."""
        descriptor = SERVICE.methods_by_name[method]
        stub = pbg.GepadStub(self.tcp)
        metadata = [] if token is None else [("authorization", f"Bearer {token}")]
        rule = RULES[method]
        build = rule.foreign_request if foreign and rule.foreign_request else rule.request
        request = build(self)
        timeout = 10
        fn = getattr(stub, method)
        if descriptor.client_streaming:
            return fn(iter(request), metadata=metadata, timeout=timeout)  # type: ignore[call-overload]
        if descriptor.server_streaming:
            stream = fn(request, metadata=metadata, timeout=timeout)
            try:
                return next(stream)
            finally:
                stream.cancel()
        return fn(request, metadata=metadata, timeout=timeout)

    def code_of(self, method: str, token: str | None, *, foreign: bool = False
                ) -> grpc.StatusCode:
        try:
            reply = self.call(method, token, foreign=foreign)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
        if isinstance(reply, pb.EvolveResponse):
            # Let a round started here finish, so it does not write under the next check.
            request = pb.WatchRunRequest(run_id=reply.run_id)
            list(self.admin.WatchRun(request, timeout=60))
        return grpc.StatusCode.OK

    def snapshot(self) -> tuple[object, ...]:
        with sqlite3.connect(self.daemon.settings.database_path) as conn:
            tables = ("feedback_events", "served", "served_changes", "runs", "programs")
            return tuple(conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    # One daemon for the whole table: each check is a handful of calls, a daemon and a round each
    # would multiply the module's time by forty.
    root = short_tempdir()
    os.environ["GEPAD_TEST_KEY"] = "not-a-real-key"
    daemon = DaemonThread(make_settings(root))
    daemon.wait_ready()
    running_daemon = RunningDaemon(daemon.settings)
    try:
        yield from _world(running_daemon)
    finally:
        daemon.stop()
        os.environ.pop("GEPAD_TEST_KEY", None)
        shutil.rmtree(root, ignore_errors=True)


def _world(running_daemon: RunningDaemon) -> Iterator[World]:
    with OpenAIDouble() as double, grpc.insecure_channel(running_daemon.target) as admin, \
            grpc.insecure_channel(running_daemon.tcp_target) as tcp:
        stub = pbg.GepadStub(admin)

        def model(name: str) -> pb.ModelSettings:
            return pb.ModelSettings(model=f"openai/{name}", api_base=double.api_base,
                                    api_key_env="GEPAD_TEST_KEY")

        stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
            name=PROGRAM, seed_components={"system": "You are a careful editor."},
            task_model=model("task-double"), judge_model=model("judge-double"),
            reflection_model=model("reflect-double"),
            evolution=pb.EvolutionSettings(max_iterations_per_round=1),
        )))
        stub.StreamFeedback(iter([
            pb.FeedbackEvent(
                event_id=f"a{i}", user_id="alice", program=PROGRAM,
                kind=pb.FEEDBACK_KIND_CORRECTION,
                input=[pb.ChatMessage(role="user", content=f"question {i}")],
                output=f"ok: question {i}", correction=f"OK: QUESTION {i}", comment="uppercase",
            ) for i in range(12)
        ]))
        run_id = stub.Evolve(pb.EvolveRequest(user_id="alice", program=PROGRAM)).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
        assert final.status == pb.RUN_STATUS_SUCCEEDED, final.message
        # Serve alice an edited prompt, so a rollback to the seed would be a visible change.
        seed_id = stub.GetPrompt(pb.GetPromptRequest(user_id="alice", program=PROGRAM)
                                 ).candidate_id
        stub.RecordFeedback(pb.RecordFeedbackRequest(event=pb.FeedbackEvent(
            event_id="edit", user_id="alice", program=PROGRAM, kind=pb.FEEDBACK_KIND_PROMPT_EDIT,
            edited_components={"system": "alice's own words"})))
        yield World(running_daemon, tcp, run_id, stub, seed_id)


@pytest.mark.parametrize("method", sorted(RULES))
def test_a_user_token_reaches_only_that_users_data(world: World, method: str) -> None:
    bob = world.daemon.user_token("bob")
    before = world.snapshot()
    expected = RULES[method].foreign or grpc.StatusCode.OK
    assert world.code_of(method, bob, foreign=True) == expected
    assert world.snapshot() == before, "a refused call changed stored data"
    # The owner's own token is let through: the refusal above is about whose data it is.
    alice = world.daemon.user_token("alice")
    assert world.code_of(method, alice) == (DENIED if RULES[method].admin_only
                                            else grpc.StatusCode.OK)


@pytest.mark.parametrize("method", sorted(RULES))
def test_tcp_without_a_valid_token_is_unauthenticated(world: World, method: str) -> None:
    before = world.snapshot()
    assert world.code_of(method, None) == grpc.StatusCode.UNAUTHENTICATED
    assert world.code_of(method, "not-a-token") == grpc.StatusCode.UNAUTHENTICATED
    assert world.snapshot() == before


@pytest.mark.parametrize("method", sorted(RULES))
def test_an_admin_token_reaches_every_users_data(world: World, method: str) -> None:
    assert world.code_of(method, world.daemon.admin_token) == grpc.StatusCode.OK


def test_an_rpc_without_an_access_rule_stops_the_daemon_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(access.RULES, "Rollback")
    servicer = SimpleNamespace(**{m: None for m in access.RULES} | {"Rollback": None})
    with pytest.raises(RuntimeError, match=r"^no access rule for Rollback in gepad/rpc/access.py$"):
        handlers.generic_handler(servicer, Authenticator(()))
