"""Every request limit README.md documents, at the limit (accepted) and one past it (refused,
naming the field, nothing stored), through the real daemon over its Unix socket; then every other
way an event can be wrong, and the exact message its sender reads (the message converted as the
servicer does, then `validate_event` directly).

The numbers are read from README.md's "Request limits" paragraph, so the documented limit is the
one tested: raising a limit in the code, or in the README alone, fails here.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from gepad.errors import InvalidArgument
from gepad.feedback.event import FeedbackEvent, event_from_json
from gepad.feedback.validation import NewEvent
from gepad.feedback.validation import validate_event as validate_record
from gepad.identity import example_id, split_of
from gepad.rpc.messages import event_from_message
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import RunningDaemon

README = (Path(__file__).parents[2] / "README.md").read_text()
LIMITS_TEXT = " ".join(README.split("Request limits", 1)[1].split("\n\n", 1)[0].split())
PROGRAM = "bot"


def validate_event(ev: pb.FeedbackEvent, now: float | None = None) -> NewEvent:
    return validate_record(event_from_message(ev), now=now)


def documented(pattern: str) -> int:
    """The number README.md's request-limits paragraph gives for ``pattern``'s group."""
    match = re.search(pattern, LIMITS_TEXT)
    assert match is not None, f"README.md's request limits no longer say {pattern!r}"
    return int(match.group(1).replace(",", ""))


def event(**fields: object) -> pb.FeedbackEvent:
    base: dict[str, object] = dict(
        event_id="e1", user_id="alice", program=PROGRAM, kind=pb.FEEDBACK_KIND_CORRECTION,
        input=[pb.ChatMessage(role="user", content="Fix: teh cat")], output="teh cat",
        correction="the cat", comment="typo",
    )
    base.update(fields)
    return pb.FeedbackEvent(**base)  # type: ignore[arg-type]


def messages(total: int, count: int | None = None) -> list[pb.ChatMessage]:
    """Input messages of ``total`` characters, in as few messages as the per-message limit allows
    (or exactly ``count`` of them)."""
    if count is not None:
        return [pb.ChatMessage(role="user", content=f"m{i}") for i in range(count)]
    per = documented(r"each message and each component ≤ ([\d,]+) characters")
    sizes = [per] * (total // per) + ([total % per] if total % per else [])
    return [pb.ChatMessage(role="user", content="x" * n) for n in sizes]


def edit(components: dict[str, str]) -> pb.FeedbackEvent:
    return pb.FeedbackEvent(event_id="e1", user_id="alice", program=PROGRAM,
                            kind=pb.FEEDBACK_KIND_PROMPT_EDIT, edited_components=components)


@dataclass(frozen=True)
class Limit:
    readme: str  # a regex over README's limits paragraph; group 1 is the number
    field: str  # the field the refusal must name
    build: Callable[[int], pb.FeedbackEvent]  # an event at size n


TEXT = r"each message and each component ≤ ([\d,]+) characters"
IDS = r"ids 1–([\d,]+) characters"
LIMITS = {
    "event_id": Limit(IDS, "event.event_id", lambda n: event(event_id="e" * n)),
    "user_id": Limit(IDS, "event.user_id", lambda n: event(user_id="u" * n)),
    "candidate_id": Limit(IDS, "event.candidate_id", lambda n: event(candidate_id="c" * n)),
    "source_id": Limit(IDS, "event.source_id", lambda n: event(source_id="s" * n)),
    "output": Limit(TEXT, "event.output", lambda n: event(output="o" * n)),
    "correction": Limit(TEXT, "event.correction", lambda n: event(correction="c" * n)),
    "message": Limit(TEXT, "event.input[0].content",
                     lambda n: event(input=[pb.ChatMessage(role="user", content="m" * n)])),
    "component": Limit(TEXT, "event.edited_components", lambda n: edit({"system": "s" * n})),
    "component_name": Limit(r"component names 1–([\d,]+)", "event.edited_components",
                            lambda n: edit({"c" * n: "text"})),
    "comment": Limit(r"`comment` ≤ ([\d,]+)", "event.comment", lambda n: event(comment="c" * n)),
    "message_count": Limit(r"≤ ([\d,]+) input messages", "event.input",
                           lambda n: event(input=messages(0, count=n))),
    "input_total": Limit(r"totalling ≤ ([\d,]+) characters", "event.input",
                         lambda n: event(input=messages(n))),
    "metadata_entries": Limit(r"≤ ([\d,]+) metadata entries", "event.metadata",
                              lambda n: event(metadata={f"k{i}": "v" for i in range(n)})),
    "metadata_key": Limit(r"keys ≤ ([\d,]+)", "event.metadata",
                          lambda n: event(metadata={"k" * n: "v"})),
    "metadata_value": Limit(r"values ≤ ([\d,]+)", "event.metadata",
                            lambda n: event(metadata={"k": "v" * n})),
    "components": Limit(r"≤ ([\d,]+) components", "event.edited_components",
                        lambda n: edit({f"c{i}": "text" for i in range(n)})),
}


@pytest.fixture
def stub(running_daemon: RunningDaemon) -> Iterator[pbg.GepadStub]:
    with grpc.insecure_channel(running_daemon.target) as channel:
        stub = pbg.GepadStub(channel)
        stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
            name=PROGRAM, seed_components={"system": "Be kind."})))
        yield stub


def stored(daemon: RunningDaemon) -> int:
    with sqlite3.connect(daemon.settings.database_path) as conn:
        (n,) = conn.execute("SELECT count(*) FROM feedback_events").fetchone()
    return int(n)


def refused(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    return info.value


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_each_documented_limit_holds_at_the_limit_and_not_past_it(
    running_daemon: RunningDaemon, stub: pbg.GepadStub, name: str
) -> None:
    limit = LIMITS[name]
    n = documented(limit.readme)
    at = stub.RecordFeedback(pb.RecordFeedbackRequest(event=limit.build(n)))
    assert not at.duplicate and stored(running_daemon) == 1

    # Same event id: a limit that let this through would answer "duplicate", not refuse it.
    past = limit.build(n + 1)
    error = refused(lambda: stub.RecordFeedback(pb.RecordFeedbackRequest(event=past)))
    assert limit.field in (error.details() or "")
    assert stored(running_daemon) == 1


@pytest.mark.parametrize(("score", "ok"), [
    (0.0, True), (1.0, True), (-1e-9, False), (-0.5, False), (1.000001, False),
    (float("inf"), False), (float("-inf"), False), (float("nan"), False),
])
def test_scores_are_within_zero_and_one(running_daemon: RunningDaemon, stub: pbg.GepadStub,
                                        score: float, ok: bool) -> None:
    assert "scores within 0..1" in LIMITS_TEXT
    rating = event(kind=pb.FEEDBACK_KIND_RATING, score=score, correction="")
    request = pb.RecordFeedbackRequest(event=rating)
    if ok:
        assert not stub.RecordFeedback(request).duplicate
    else:
        error = refused(lambda: stub.RecordFeedback(request))
        assert "event.score" in (error.details() or "")
    assert stored(running_daemon) == int(ok)


def test_program_names_hold_at_the_limit_and_not_past_it(stub: pbg.GepadStub) -> None:
    n = documented(r"program and component names 1–([\d,]+)")

    def upsert(name: str) -> pb.UpsertProgramResponse:
        return stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
            name=name, seed_components={"system": "s"})))

    assert upsert("p" * n).created
    error = refused(lambda: upsert("q" * (n + 1)))
    assert "program.name" in (error.details() or "")
    names = {p.name for p in stub.ListPrograms(pb.ListProgramsRequest()).programs}
    assert names == {PROGRAM, "p" * n}


def test_a_program_holds_at_most_the_documented_components(stub: pbg.GepadStub) -> None:
    n = documented(r"≤ ([\d,]+) components")

    def upsert(count: int) -> pb.UpsertProgramResponse:
        return stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
            name="multi", seed_components={f"c{i}": "text" for i in range(count)})))

    assert upsert(n).created
    error = refused(lambda: upsert(n + 1))
    assert "program.seed_components" in (error.details() or "")
    got = stub.GetProgram(pb.GetProgramRequest(name="multi"))
    assert len(got.seed_components) == n


def test_a_stream_holds_at_most_the_documented_events(running_daemon: RunningDaemon,
                                                      stub: pbg.GepadStub) -> None:
    n = documented(r"≤ ([\d,]+) events per stream")
    template = event(kind=pb.FEEDBACK_KIND_ACCEPTANCE, correction="", comment="")

    def events(count: int) -> Iterator[pb.FeedbackEvent]:
        for i in range(count):
            template.event_id = f"s{i}"
            yield template

    error = refused(lambda: stub.StreamFeedback(events(n + 1), timeout=120))
    assert f"at most {n:,}".replace(",", "") in (error.details() or "").replace(",", "")
    assert stored(running_daemon) == 0


NOW = 1_800_000_000.0
DAY = 24 * 3600
ROLES = "['assistant', 'system', 'tool', 'user']"
BAD_PROGRAM = ("must be 1..128 characters of letters, digits, '.', '_' or '-', starting with a "
               "letter or digit")
BAD_ID = ("must be 1..128 characters with no whitespace, control or format characters "
          "(bidirectional overrides, zero-width characters, BOMs)")
WHEN = "must be a valid time, not more than a day in the future"
WRONG: dict[str, tuple[pb.FeedbackEvent, str]] = {
    "no event id": (event(event_id=""), "event.event_id: is required"),
    "spaced event id": (event(event_id="a b"), f"event.event_id: {BAD_ID}"),
    "no user": (event(user_id=""), "event.user_id: is required"),
    "control char in user": (event(user_id="al\x01ce"), f"event.user_id: {BAD_ID}"),
    "no program": (event(program=""), "event.program: is required"),
    "bad program": (event(program="-bot"), f"event.program: {BAD_PROGRAM}"),
    "no kind": (event(kind=0), "event.kind: is required"),
    "unknown kind": (event(kind=99), "event.kind: unknown value 99"),
    "unknown source": (event(source=99), "event.source: unknown value 99"),
    "edit without components": (
        edit({}), "event.edited_components: needs at least one component, e.g. {'system': '...'}"),
    "bad component name": (
        edit({"-x": "t"}), "event.edited_components['-x']: component names are like program names"),
    "blank component": (edit({"system": " "}), "event.edited_components['system']: is required"),
    "no input": (event(input=[]),
                 "event.input: a correction event needs the input the model answered"),
    "components on a correction": (event(edited_components={"system": "s"}),
                                   "event.edited_components: only PROMPT_EDIT events carry them"),
    "too many messages": (event(input=messages(0, count=101)), "event.input: at most 100 messages"),
    "unknown role": (event(input=[pb.ChatMessage(role="robot", content="hi")]),
                     f"event.input[0].role: must be one of {ROLES}, got 'robot'"),
    "NUL in a message": (
        event(input=[pb.ChatMessage(role="user", content="a"),
                     pb.ChatMessage(role="user", content="b\x00")]),
        "event.input[1].content: contains a NUL character"),
    "long message": (event(input=[pb.ChatMessage(role="user", content="m" * 65_537)]),
                     "event.input[0].content: is 65537 characters; the limit is 65536"),
    "long input": (event(input=messages(262_145)),
                   "event.input: totals 262145 characters; the limit is 262144"),
    **{
        f"{name} without output": (event(kind=kind, output=" ", correction="", score=0.5),
                                   "event.output: is required")
        for name, kind in (("acceptance", pb.FEEDBACK_KIND_ACCEPTANCE),
                           ("rejection", pb.FEEDBACK_KIND_REJECTION),
                           ("rating", pb.FEEDBACK_KIND_RATING),
                           ("verdict", pb.FEEDBACK_KIND_JUDGE_VERDICT))
    },
    "too many components": (edit({f"c{i}": "t" for i in range(17)}),
                            "event.edited_components: at most 16 components"),
    "correction without correction": (event(correction=""), "event.correction: is required"),
    "long comment": (event(comment="c" * 8_193),
                     "event.comment: is 8193 characters; the limit is 8192"),
    "bad candidate id": (event(candidate_id="c d"), f"event.candidate_id: {BAD_ID}"),
    "bad source id": (event(source_id="s\nt"), f"event.source_id: {BAD_ID}"),
    "bad dimension": (event(dimension="-tone"),
                      "event.dimension: must be a name of at most 64 characters"),
    "long dimension": (event(dimension="d" * 65),
                       "event.dimension: must be a name of at most 64 characters"),
    "score above 1": (event(score=1.5), "event.score: must be within 0..1, got 1.5"),
    "rating without score": (event(kind=pb.FEEDBACK_KIND_RATING),
                             "event.score: a rating event needs a score within 0..1"),
    "verdict without score": (event(kind=pb.FEEDBACK_KIND_JUDGE_VERDICT),
                              "event.score: a judge_verdict event needs a score within 0..1"),
    "many metadata": (event(metadata={f"k{i}": "v" for i in range(33)}),
                      "event.metadata: at most 32 entries"),
    "empty metadata key": (event(metadata={"": "v"}), "event.metadata: keys are 1..64 chars"),
    "NUL in metadata": (event(metadata={"k": "\x00"}),
                        "event.metadata['k']: contains a NUL character"),
    "far future": (event(occurred_at=Timestamp(seconds=int(NOW) + DAY + 1)),
                   f"event.occurred_at: {WHEN}"),
    "before 1970": (event(occurred_at=Timestamp(seconds=-1)), f"event.occurred_at: {WHEN}"),
    "bad nanos": (event(occurred_at=Timestamp(seconds=1, nanos=1_000_000_000)),
                  f"event.occurred_at: {WHEN}"),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_each_way_an_event_can_be_wrong_is_named(case: str) -> None:
    ev, message = WRONG[case]
    with pytest.raises(InvalidArgument) as info:
        validate_event(ev, now=NOW)
    assert str(info.value) == message
    assert info.value.field == message.split(": ", 1)[0]


def test_a_valid_event_becomes_a_record_of_what_was_sent() -> None:
    ev = event(metadata={"app": "editor"}, dimension="d" * 64, score=0.5,
               occurred_at=Timestamp(seconds=int(NOW) + DAY, nanos=500_000_000))
    got = validate_event(ev, now=NOW)
    wanted_id = example_id("alice", PROGRAM, [{"role": "user", "content": "Fix: teh cat"}])
    assert (got.user_id, got.event_id, got.program, got.kind) == ("alice", "e1", PROGRAM,
                                                                  "correction")
    assert (got.example_id, got.split) == (wanted_id, split_of(wanted_id))
    # The canonical JSON the example id hashes (sorted keys, no spaces), encoded once.
    assert got.input_json == '[{"content":"Fix: teh cat","role":"user"}]'
    assert (got.received_at, got.occurred_at) == (NOW, NOW + DAY + 0.5)
    assert got.edited_components is None
    # The whole event as sent is kept, on one line.
    assert event_from_json(got.payload_json) == event_from_message(ev)
    assert "\n" not in got.payload_json

    # Times from the epoch on, to the nanosecond.
    for seconds, nanos in ((0, 0), (1, 999_999_999)):
        at = validate_event(event(occurred_at=Timestamp(seconds=seconds, nanos=nanos)), now=NOW)
        assert at.occurred_at == seconds + nanos / 1e9

    # Text is kept as written, not escaped.
    umlaut = validate_event(event(input=[pb.ChatMessage(role="user", content="Grüße")]))
    assert umlaut.input_json == '[{"content":"Grüße","role":"user"}]'

    # Without a time of its own, an event happened when it arrived; without `now`, that is now.
    before = time.time()
    plain = validate_event(event())
    assert before <= plain.received_at == plain.occurred_at <= time.time()

    # An edit carries its components and no example.
    edited = validate_event(edit({"system": "Be brief."}), now=NOW)
    assert (edited.kind, edited.example_id, edited.split) == ("prompt_edit", "", None)
    assert edited.edited_components == {"system": "Be brief."}


@pytest.mark.parametrize("content", ["plain", 'quotes " and \\ backslashes', "ünïcödé ✓ 😀",
                                     "new\nlines\tand\u2028separators", ""])
def test_the_example_id_of_an_event_is_the_one_identity_gives_its_input(content: str) -> None:
    messages = (("system", "Be brief."), ("user", content or "x"), ("assistant", content))
    new = validate_record(FeedbackEvent(
        event_id="e", user_id="ü-user", program="p.1", kind="rejection", input=messages,
        output="o",
    ))
    as_dicts = [{"role": r, "content": c} for r, c in messages]
    assert new.example_id == example_id("ü-user", "p.1", as_dicts)
    assert json.loads(new.input_json) == as_dicts
