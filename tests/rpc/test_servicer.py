"""Every RPC over the real Unix socket and real TCP, against the real daemon and SQLite file."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import RunningDaemon

Stub = pbg.GepadStub


@pytest.fixture
def channel(running_daemon: RunningDaemon) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(running_daemon.target) as ch:
        yield ch


@pytest.fixture
def stub(channel: grpc.Channel) -> Stub:
    stub = Stub(channel)
    stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
        name="editor.system", seed_components={"system": "You are a careful editor."},
        task_model=pb.ModelSettings(model="openai/gpt-4o-mini", api_key_env="OPENAI_API_KEY"),
    )))
    return stub


def event(id_: str, user: str = "alice", **fields: object) -> pb.FeedbackEvent:
    base: dict[str, object] = dict(
        event_id=id_, user_id=user, program="editor.system",
        kind=pb.FEEDBACK_KIND_CORRECTION,
        input=[pb.ChatMessage(role="user", content="Fix: teh cat")],
        output="teh cat", correction="the cat", comment="typo left in",
    )
    base.update(fields)
    return pb.FeedbackEvent(**base)  # type: ignore[arg-type]


def record(stub: Stub, ev: pb.FeedbackEvent) -> pb.RecordFeedbackResponse:
    return stub.RecordFeedback(pb.RecordFeedbackRequest(event=ev))


def edit(stub: Stub, event_id: str, text: str, user: str = "alice") -> None:
    record(stub, pb.FeedbackEvent(
        event_id=event_id, user_id=user, program="editor.system",
        kind=pb.FEEDBACK_KIND_PROMPT_EDIT, edited_components={"system": text},
    ))


def rows(daemon: RunningDaemon, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(daemon.settings.database_path) as conn:
        return conn.execute(sql).fetchall()


def expect_error(code: grpc.StatusCode, fragment: str, call: object, *args: object) -> None:
    with pytest.raises(grpc.RpcError) as info:
        call(*args)  # type: ignore[operator]
    assert info.value.code() == code, info.value.details()
    assert fragment in (info.value.details() or ""), info.value.details()


# ---------------------------------------------------------------- listening and access


def test_socket_is_owner_only(running_daemon: RunningDaemon) -> None:
    mode = stat.S_IMODE(os.stat(running_daemon.settings.socket_path).st_mode)
    assert mode == 0o600


def test_health_and_reflection_are_served(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    reply = health.Check(health_pb2.HealthCheckRequest(service="gepad.v1.Gepad"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    refl = reflection_pb2_grpc.ServerReflectionStub(channel)
    (answer,) = refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(
        list_services="")]))
    names = {s.name for s in answer.list_services_response.service}
    assert "gepad.v1.Gepad" in names


def test_tcp_requires_a_token_and_scopes_it(running_daemon: RunningDaemon, stub: Stub) -> None:
    record(stub, event("e1"))
    with grpc.insecure_channel(running_daemon.tcp_target) as ch:
        tcp = Stub(ch)
        get = pb.GetPromptRequest(user_id="alice", program="editor.system")
        expect_error(grpc.StatusCode.UNAUTHENTICATED, "Bearer", tcp.GetPrompt, get)
        with pytest.raises(grpc.RpcError) as info:
            tcp.GetPrompt(get, metadata=[("authorization", "Bearer wrong")])
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED

        def as_user(user: str) -> list[tuple[str, str]]:
            return [("authorization", f"Bearer {running_daemon.user_token(user)}")]

        assert tcp.GetPrompt(get, metadata=as_user("alice")).user_id == "alice"
        with pytest.raises(grpc.RpcError) as info:
            tcp.GetPrompt(get, metadata=as_user("bob"))
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "'bob'" in (info.value.details() or "")
        # Bob cannot write into Alice's data either, and nothing is stored.
        with pytest.raises(grpc.RpcError) as info:
            tcp.RecordFeedback(pb.RecordFeedbackRequest(event=event("e2")), metadata=as_user("bob"))
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        # Nor roll Alice back, nor register programs.
        with pytest.raises(grpc.RpcError) as info:
            tcp.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
                name="x", seed_components={"system": "s"})), metadata=as_user("alice"))
        assert (info.value.code(), info.value.details()) == (
            grpc.StatusCode.PERMISSION_DENIED, "UpsertProgram needs an admin token")
        admin = [("authorization", f"Bearer {running_daemon.admin_token}")]
        assert tcp.GetPrompt(get, metadata=admin).user_id == "alice"
    assert rows(running_daemon, "SELECT event_id FROM feedback_events") == [("e1",)]


@pytest.mark.parametrize(("header", "details"), [
    ("Basic YWxpY2U6cHc=", "authorization metadata must be 'Bearer <token>'"),
    ("Bearer", "authorization metadata must be 'Bearer <token>'"),
    ("Bearer a b", "unknown token"),  # the token is everything after the scheme
    ("bearer token-of-nobody", "unknown token"),
], ids=["basic", "no-token", "token-with-space", "unknown"])  # plain ids: mutmut selects by id
def test_a_malformed_or_unknown_token_is_unauthenticated(
    running_daemon: RunningDaemon, header: str, details: str
) -> None:
    with grpc.insecure_channel(running_daemon.tcp_target) as ch, \
            pytest.raises(grpc.RpcError) as info:
        Stub(ch).ListPrograms(pb.ListProgramsRequest(), metadata=[("authorization", header)])
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.UNAUTHENTICATED, details)


# ---------------------------------------------------------------- programs


def test_programs_round_trip(stub: Stub) -> None:
    got = stub.GetProgram(pb.GetProgramRequest(name="editor.system"))
    assert got.seed_components["system"] == "You are a careful editor."
    assert got.revision == 1
    again = stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
        name="editor.system", seed_components={"system": "v2"})))
    assert not again.created and again.program.revision == 2
    names = [p.name for p in stub.ListPrograms(pb.ListProgramsRequest()).programs]
    assert names == ["editor.system"]


@pytest.mark.parametrize(
    ("program", "fragment"),
    [
        (pb.Program(name="", seed_components={"system": "s"}), "program.name: is required"),
        (pb.Program(name="bad name", seed_components={"system": "s"}), "program.name"),
        (pb.Program(name="p"), "program.seed_components"),
        (pb.Program(name="p", seed_components={"system": "s"},
                    task_model=pb.ModelSettings(api_key_env="sk-live-123")), "api_key_env"),
        (pb.Program(name="p", seed_components={"system": "s"},
                    evolution=pb.EvolutionSettings(promotion_margin=2)), "promotion_margin"),
    ],
)
def test_bad_programs_are_refused(stub: Stub, program: pb.Program, fragment: str) -> None:
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, fragment, stub.UpsertProgram,
                 pb.UpsertProgramRequest(program=program))
    assert [p.name for p in stub.ListPrograms(pb.ListProgramsRequest()).programs] == [
        "editor.system"
    ]


def test_unknown_program_is_not_found(stub: Stub) -> None:
    expect_error(grpc.StatusCode.NOT_FOUND, "'nope'", stub.GetProgram,
                 pb.GetProgramRequest(name="nope"))
    expect_error(grpc.StatusCode.NOT_FOUND, "'nope'", stub.GetPrompt,
                 pb.GetPromptRequest(user_id="alice", program="nope"))
    expect_error(grpc.StatusCode.NOT_FOUND, "'nope'", stub.GetRubric,
                 pb.GetRubricRequest(user_id="alice", program="nope"))


@pytest.mark.parametrize(("limit", "ok"), [(-1, False), (0, True), (1000, True), (1001, False)])
def test_a_run_list_holds_0_to_1000_runs(stub: Stub, limit: int, ok: bool) -> None:
    request = pb.ListRunsRequest(user_id="alice", program="editor.system", limit=limit)
    if ok:
        assert list(stub.ListRuns(request).runs) == []
        return
    with pytest.raises(grpc.RpcError) as info:
        stub.ListRuns(request)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details() == "limit: must be within 0..1000 (0 = 20)"


BAD_ID = ("must be 1..128 characters with no whitespace, control or format characters "
          "(bidirectional overrides, zero-width characters, BOMs)")
BAD_NAME = ("must be 1..128 characters of letters, digits, '.', '_' or '-', starting with a "
            "letter or digit")
MALFORMED: dict[str, tuple[str, object, str]] = {
    "program name missing": ("GetProgram", pb.GetProgramRequest(), "name: is required"),
    "program name bad": ("GetProgram", pb.GetProgramRequest(name="-x"), f"name: {BAD_NAME}"),
    "event missing": ("RecordFeedback", pb.RecordFeedbackRequest(), "event: is required"),
    "user missing": ("GetPrompt", pb.GetPromptRequest(program="editor.system"),
                     "user_id: is required"),
    "program missing": ("ListLineage", pb.ListLineageRequest(user_id="alice"),
                        "program: is required"),
    "candidate missing": ("Rollback", pb.RollbackRequest(user_id="alice",
                                                         program="editor.system"),
                          "candidate_id: is required"),
    "candidate bad": ("Rollback", pb.RollbackRequest(user_id="alice", program="editor.system",
                                                     candidate_id="c d"),
                      f"candidate_id: {BAD_ID}"),
    "note long": ("Rollback", pb.RollbackRequest(user_id="alice", program="editor.system",
                                                 candidate_id="c1", note="n" * 1025),
                  "note: at most 1024 characters"),
    "iterations negative": ("Evolve", pb.EvolveRequest(user_id="alice", program="editor.system",
                                                       max_iterations=-1),
                            "max_iterations: must not be negative"),
    "run missing": ("GetRun", pb.GetRunRequest(), "run_id: is required"),
    "run bad": ("GetRun", pb.GetRunRequest(run_id="r 1"), f"run_id: {BAD_ID}"),
    "rubric user missing": ("GetRubric", pb.GetRubricRequest(program="editor.system"),
                            "user_id: is required"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_request_is_refused_naming_its_field(stub: Stub, case: str) -> None:
    rpc, request, details = MALFORMED[case]
    with pytest.raises(grpc.RpcError) as info:
        getattr(stub, rpc)(request)
    assert (info.value.code(), info.value.details()) == (grpc.StatusCode.INVALID_ARGUMENT, details)


# ---------------------------------------------------------------- feedback


@pytest.mark.parametrize(
    "kind_fields",
    [
        dict(kind=pb.FEEDBACK_KIND_ACCEPTANCE, correction=""),
        dict(kind=pb.FEEDBACK_KIND_REJECTION, correction=""),
        dict(kind=pb.FEEDBACK_KIND_CORRECTION),
        dict(kind=pb.FEEDBACK_KIND_RATING, score=0.25, dimension="tone"),
        dict(kind=pb.FEEDBACK_KIND_JUDGE_VERDICT, score=1.0, source=pb.FEEDBACK_SOURCE_LLM_JUDGE,
             source_id="judge-v1"),
    ],
)
def test_every_kind_is_stored(running_daemon: RunningDaemon, stub: Stub,
                              kind_fields: dict[str, object]) -> None:
    reply = record(stub, event("k1", **kind_fields))
    assert not reply.duplicate and reply.example_id.startswith("x")
    (kind,) = rows(running_daemon, "SELECT kind FROM feedback_events")
    assert pb.FeedbackKind.Name(kind_fields["kind"]).lower().endswith(str(kind[0]))  # type: ignore[arg-type]


def test_repeated_event_is_acknowledged_once(running_daemon: RunningDaemon, stub: Stub) -> None:
    first = record(stub, event("same"))
    second = record(stub, event("same", comment="a retry with other text"))
    assert not first.duplicate and second.duplicate
    assert first.event_id == second.event_id == "same"
    assert second.example_id == first.example_id
    assert rows(running_daemon, "SELECT count(*) FROM feedback_events") == [(1,)]
    # The same event id from another user is another event.
    assert not record(stub, event("same", user="bob")).duplicate


def test_events_on_one_input_fold_into_one_example(running_daemon: RunningDaemon,
                                                   stub: Stub) -> None:
    a = record(stub, event("a"))
    b = record(stub, event("b", kind=pb.FEEDBACK_KIND_REJECTION, correction=""))
    c = record(stub, event("c", input=[pb.ChatMessage(role="user", content="other")]))
    assert a.example_id == b.example_id != c.example_id
    counts = dict(rows(running_daemon, "SELECT example_id, event_count FROM examples"))
    assert counts == {a.example_id: 2, c.example_id: 1}
    (split,) = rows(running_daemon, f"SELECT split FROM examples WHERE example_id='{a.example_id}'")
    assert split[0] in {"train", "val", "gate"}


BAD_EVENTS = [
    (dict(event_id=""), "event.event_id: is required"),
    (dict(user_id=""), "event.user_id: is required"),
    (dict(user_id="has space"), "event.user_id"),
    (dict(program="no/slash"), "event.program"),
    (dict(kind=0), "event.kind: is required"),
    (dict(kind=42), "event.kind: unknown value 42"),
    (dict(source=9), "event.source: unknown value 9"),
    (dict(input=[]), "event.input"),
    (dict(input=[pb.ChatMessage(role="wizard", content="x")]), "event.input[0].role"),
    (dict(correction=""), "event.correction: is required"),
    (dict(kind=pb.FEEDBACK_KIND_RATING), "event.score"),
    (dict(score=1.5), "event.score: must be within 0..1"),
    (dict(score=float("nan")), "event.score"),
    (dict(output="x" * 65_537), "event.output: is 65537 characters; the limit is 65536"),
    (dict(comment="y" * 9000), "event.comment"),
    (dict(metadata={str(i): "v" for i in range(40)}), "event.metadata"),
    (dict(kind=pb.FEEDBACK_KIND_PROMPT_EDIT), "event.edited_components"),
]


@pytest.mark.parametrize(("fields", "fragment"), BAD_EVENTS)
def test_bad_feedback_is_refused_and_nothing_stored(
    running_daemon: RunningDaemon, stub: Stub, fields: dict[str, object], fragment: str
) -> None:
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, fragment, record, stub, event("bad", **fields))
    assert rows(running_daemon, "SELECT count(*) FROM feedback_events") == [(0,)]
    assert rows(running_daemon, "SELECT count(*) FROM examples") == [(0,)]


def test_feedback_for_unknown_program_is_not_found(running_daemon: RunningDaemon,
                                                   stub: Stub) -> None:
    expect_error(grpc.StatusCode.NOT_FOUND, "'ghost'", record, stub, event("e", program="ghost"))
    assert rows(running_daemon, "SELECT count(*) FROM feedback_events") == [(0,)]


def test_invalid_utf8_is_invalid_argument(channel: grpc.Channel, stub: Stub) -> None:
    good = pb.RecordFeedbackRequest(event=event("utf")).SerializeToString()
    broken = good.replace(b"teh cat", b"teh \xff\xfet")  # same length, bad UTF-8
    raw = channel.unary_unary("/gepad.v1.Gepad/RecordFeedback")
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, "invalid UTF-8", raw, broken)


def test_oversized_message_is_refused(running_daemon: RunningDaemon, stub: Stub) -> None:
    huge = "z" * (running_daemon.settings.max_message_bytes + 10)
    with pytest.raises(grpc.RpcError) as info:
        record(stub, event("big", output=huge))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert rows(running_daemon, "SELECT count(*) FROM feedback_events") == [(0,)]


def test_stream_is_all_or_nothing(running_daemon: RunningDaemon, stub: Stub) -> None:
    good = [event(f"s{i}", input=[pb.ChatMessage(role="user", content=f"q{i}")])
            for i in range(50)]
    reply = stub.StreamFeedback(iter([*good, good[0]]))
    assert (reply.stored, reply.duplicates) == (50, 1)
    bad = [event(f"t{i}") for i in range(5)] + [event("t5", score=7.0)]
    with pytest.raises(grpc.RpcError) as info:
        stub.StreamFeedback(iter(bad))
    assert info.value.details() == ("events[5] (event_id 't5') event.score: must be within 0..1, "
                                    "got 7.0; nothing from this stream was stored")
    assert rows(running_daemon, "SELECT count(*) FROM feedback_events") == [(50,)]


def test_deadline_is_honoured(stub: Stub) -> None:
    stream = stub.WatchPrompt(pb.WatchPromptRequest(user_id="alice", program="editor.system"),
                              timeout=0.5)
    assert next(stream).version == 0
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        next(stream)
    assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 5


# ---------------------------------------------------------------- serving, lineage, rollback


def test_new_user_gets_the_seed(stub: Stub) -> None:
    prompt = stub.GetPrompt(pb.GetPromptRequest(user_id="nobody", program="editor.system"))
    assert prompt.components["system"] == "You are a careful editor."
    assert prompt.version == 0 and not prompt.pinned


def test_prompt_edit_rollback_pin_and_unpin(running_daemon: RunningDaemon, stub: Stub) -> None:
    get = pb.GetPromptRequest(user_id="alice", program="editor.system")
    seed_id = stub.GetPrompt(get).candidate_id
    # Before anything is served, the lineage is the program's seed alone.
    record(stub, event("e0"))
    fresh = stub.ListLineage(pb.ListLineageRequest(user_id="alice", program="editor.system"))
    assert [(c.id, c.origin, dict(c.components)) for c in fresh.candidates] == [
        (seed_id, pb.CANDIDATE_ORIGIN_SEED, {"system": "You are a careful editor."})]
    assert (fresh.served_candidate_id, list(fresh.history)) == (seed_id, [])
    before = time.time()
    edit(stub, "edit-1", "You are a terse editor.")
    edited = stub.GetPrompt(get)
    assert (edited.components["system"], edited.version) == ("You are a terse editor.", 1)

    lineage = stub.ListLineage(pb.ListLineageRequest(user_id="alice", program="editor.system"))
    nodes = {c.id: c for c in lineage.candidates}
    assert nodes[edited.candidate_id].parent_ids == [seed_id]
    assert nodes[edited.candidate_id].origin == pb.CANDIDATE_ORIGIN_HUMAN_EDIT
    assert dict(nodes[edited.candidate_id].components) == {"system": "You are a terse editor."}
    assert before - 1 <= nodes[edited.candidate_id].created_at.ToNanoseconds() / 1e9 <= time.time()
    assert nodes[seed_id].origin == pb.CANDIDATE_ORIGIN_SEED
    assert lineage.served_candidate_id == edited.candidate_id

    note = "too terse " * 102 + "!!!!"  # 1024 characters, the most a note holds
    rolled = stub.Rollback(pb.RollbackRequest(user_id="alice", program="editor.system",
                                              candidate_id=seed_id, note=note))
    assert rolled.candidate_id == seed_id and rolled.pinned and rolled.version == 2
    assert stub.GetPrompt(get) == rolled

    unpinned = stub.Unpin(pb.UnpinRequest(user_id="alice", program="editor.system"))
    assert not unpinned.pinned and unpinned.version == 3 and unpinned.candidate_id == seed_id

    history = stub.ListLineage(pb.ListLineageRequest(
        user_id="alice", program="editor.system")).history
    assert all(before - 1 <= h.at.ToNanoseconds() / 1e9 <= time.time() for h in history)
    assert [(h.version, h.reason, h.from_candidate_id, h.to_candidate_id, h.pinned)
            for h in history] == [
        (1, "human_edit", seed_id, edited.candidate_id, False),
        (2, "rollback", edited.candidate_id, seed_id, True),
        (3, "unpin", seed_id, seed_id, False),
    ]
    assert history[1].actor == "admin" and history[1].note == note
    assert history[2].note == ""  # an unpin has nothing to say
    # Other users are untouched.
    assert stub.GetPrompt(pb.GetPromptRequest(user_id="bob", program="editor.system")).version == 0


def test_rollback_to_unknown_node_or_user_is_not_found(stub: Stub) -> None:
    edit(stub, "edit-1", "v1")
    expect_error(grpc.StatusCode.NOT_FOUND, "'cdeadbeef'", stub.Rollback, pb.RollbackRequest(
        user_id="alice", program="editor.system", candidate_id="cdeadbeef"))
    expect_error(grpc.StatusCode.NOT_FOUND, "'stranger' has no history", stub.Rollback,
                 pb.RollbackRequest(user_id="stranger", program="editor.system",
                                    candidate_id="cdeadbeef"))
    # Bob cannot roll back to Alice's node: lineages are per user.
    alice = stub.GetPrompt(pb.GetPromptRequest(user_id="alice", program="editor.system"))
    edit(stub, "edit-b", "bob's", user="bob")
    expect_error(grpc.StatusCode.NOT_FOUND, "not in the lineage", stub.Rollback,
                 pb.RollbackRequest(user_id="bob", program="editor.system",
                                    candidate_id=alice.candidate_id))


def test_served_prompt_survives_restart(daemon_root: object) -> None:
    from pathlib import Path

    from tests.conftest import DaemonThread, make_settings

    settings = make_settings(Path(str(daemon_root)), tcp=False)
    first = DaemonThread(settings)
    first.wait_ready()
    with grpc.insecure_channel(f"unix://{settings.socket_path}") as ch:
        s = Stub(ch)
        s.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
            name="editor.system", seed_components={"system": "seed"})))
        edit(s, "e1", "edited")
    first.stop()
    second = DaemonThread(settings)
    second.wait_ready()
    try:
        with grpc.insecure_channel(f"unix://{settings.socket_path}") as ch:
            prompt = Stub(ch).GetPrompt(pb.GetPromptRequest(user_id="alice",
                                                            program="editor.system"))
        assert (prompt.components["system"], prompt.version) == ("edited", 1)
    finally:
        second.stop()


def test_watch_prompt_sees_changes(stub: Stub) -> None:
    stream = stub.WatchPrompt(pb.WatchPromptRequest(user_id="alice", program="editor.system"),
                              timeout=10)
    first = next(stream)
    assert first.version == 0
    edit(stub, "w1", "changed once")
    second = next(stream)
    assert (second.version, second.components["system"]) == (1, "changed once")
    stream.cancel()


def test_watch_prompt_sees_a_new_seed(stub: Stub) -> None:
    stream = stub.WatchPrompt(pb.WatchPromptRequest(user_id="carol", program="editor.system"),
                              timeout=10)
    assert next(stream).components["system"] == "You are a careful editor."
    stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
        name="editor.system", seed_components={"system": "A new seed."})))
    assert next(stream).components["system"] == "A new seed."
    stream.cancel()


def test_watchers_see_rollback_and_unpin(stub: Stub) -> None:
    request = pb.WatchPromptRequest(user_id="alice", program="editor.system")
    stream = stub.WatchPrompt(request, timeout=10)
    seed = next(stream)
    edit(stub, "w1", "edited")
    assert next(stream).version == 1
    stub.Rollback(pb.RollbackRequest(user_id="alice", program="editor.system",
                                     candidate_id=seed.candidate_id))
    rolled = next(stream)
    assert (rolled.version, rolled.candidate_id, rolled.pinned) == (2, seed.candidate_id, True)
    stub.Unpin(pb.UnpinRequest(user_id="alice", program="editor.system"))
    # Same candidate, new version: the pin flag alone changed, and watchers hear of it.
    unpinned = next(stream)
    assert (unpinned.version, unpinned.candidate_id, unpinned.pinned) == (
        3, seed.candidate_id, False)
    stream.cancel()


def test_an_unknown_run_is_not_found(stub: Stub) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.GetRun(pb.GetRunRequest(run_id="r-nope"))
    assert (info.value.code(), info.value.details()) == (
        grpc.StatusCode.NOT_FOUND, "run 'r-nope' does not exist")


def test_rolling_back_to_the_node_already_served_and_pinned_changes_nothing(stub: Stub) -> None:
    get = pb.GetPromptRequest(user_id="alice", program="editor.system")
    seed_id = stub.GetPrompt(get).candidate_id
    edit(stub, "edit-1", "You are a terse editor.")
    request = pb.RollbackRequest(user_id="alice", program="editor.system", candidate_id=seed_id)
    first = stub.Rollback(request)
    assert (first.candidate_id, first.pinned, first.version) == (seed_id, True, 2)
    again = stub.Rollback(request)
    assert again == first and stub.GetPrompt(get) == first
    history = stub.ListLineage(pb.ListLineageRequest(
        user_id="alice", program="editor.system")).history
    assert [h.reason for h in history] == ["human_edit", "rollback"]
