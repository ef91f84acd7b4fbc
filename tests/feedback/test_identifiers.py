"""Ids and metadata keys against README.md's rule: no whitespace, control or format character
(Unicode categories Z, Cc, Cf, Cs), so an id shown in a log or a terminal is the id it reads as."""

from __future__ import annotations

import sqlite3
import unicodedata

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gepad.errors import InvalidArgument
from gepad.feedback.validation import check_id
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import RunningDaemon
from tests.feedback.test_validation import LIMITS_TEXT

RULE = "Unicode categories Z, Cc, Cf and Cs"
REFUSED = ("Z", "Cc", "Cf", "Cs")


def readme_allows(value: str) -> bool:
    """The README's rule, written from its words rather than from the code."""
    return 1 <= len(value) <= 128 and not any(
        unicodedata.category(c).startswith(REFUSED) or c.isspace() for c in value)


def test_the_readme_states_the_rule_tested_here() -> None:
    assert RULE in LIMITS_TEXT


SPOOFS = {
    "C1 control": "abc\u0085def",
    "C1 CSI": "abc\u009bdef",
    "right-to-left override": "adm\u202enimda",
    "left-to-right isolate": "a\u2066b",
    "zero-width space": "ali\u200bce",
    "zero-width joiner": "ali\u200dce",
    "BOM": "\ufeffalice",
    "soft hyphen": "al\u00adice",
    "no-break space": "al\u00a0ice",
    "line separator": "al\u2028ice",
    "NUL": "al\x00ice",
}


@pytest.mark.parametrize("name", sorted(SPOOFS))
def test_an_id_that_displays_as_something_else_is_refused(name: str) -> None:
    with pytest.raises(InvalidArgument, match=r"event\.user_id"):
        check_id("event.user_id", SPOOFS[name])


@pytest.mark.parametrize("value", ["alice", "élodie", "用户-7", "a" * 128, "x@example.com",
                                   "emoji-😀"])
def test_ordinary_ids_in_any_script_are_accepted(value: str) -> None:
    assert check_id("event.user_id", value) == value


@given(st.text(min_size=0, max_size=140))
def test_check_id_follows_the_readme(value: str) -> None:
    try:
        check_id("id", value)
        accepted = True
    except InvalidArgument:
        accepted = False
    assert accepted == readme_allows(value)


@given(st.text(st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp")), min_size=1, max_size=3),
       st.text(st.characters(categories=("L", "N")), min_size=1, max_size=5))
def test_one_hidden_character_anywhere_is_refused(hidden: str, visible: str) -> None:
    for value in (hidden + visible, visible + hidden, visible + hidden + visible):
        with pytest.raises(InvalidArgument):
            check_id("id", value)


def test_the_daemon_refuses_them_and_stores_nothing(running_daemon: RunningDaemon) -> None:
    with grpc.insecure_channel(running_daemon.target) as channel:
        stub = pbg.GepadStub(channel)
        stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
            name="bot", seed_components={"system": "You are helpful."})))

        def event(**fields: object) -> pb.FeedbackEvent:
            values: dict[str, object] = dict(
                event_id="e1", user_id="alice", program="bot", kind=pb.FEEDBACK_KIND_REJECTION,
                input=[pb.ChatMessage(role="user", content="hi")], output="yo", comment="rude")
            values.update(fields)
            return pb.FeedbackEvent(**values)  # type: ignore[arg-type]

        cases = [
            (event(user_id="adm\u202enimda"), "event.user_id"),
            (event(user_id="\ufeffalice"), "event.user_id"),
            (event(event_id="e\u200b1"), "event.event_id"),
            (event(event_id="e\u00851"), "event.event_id"),
            (event(metadata={"k\x00ey": "v"}), "event.metadata"),
            (event(metadata={"k\u0085": "v"}), "event.metadata"),
        ]
        for bad, field in cases:
            with pytest.raises(grpc.RpcError) as info:
                stub.RecordFeedback(pb.RecordFeedbackRequest(event=bad), timeout=10)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (info.value.details() or "").startswith(field)
            with pytest.raises(grpc.RpcError) as info:
                stub.GetPrompt(pb.GetPromptRequest(user_id="adm\u202enimda", program="bot"))
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with sqlite3.connect(running_daemon.settings.database_path) as conn:
        assert conn.execute("SELECT count(*) FROM feedback_events").fetchone() == (0,)
