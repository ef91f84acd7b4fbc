from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from gepad.feedback.event import FeedbackEvent
from gepad.feedback.validation import NewEvent, validate_event
from gepad.store.database import connect_writer
from gepad.store.ingest import IngestResult, insert_events


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = connect_writer(tmp_path / "db.sqlite3")
    yield c
    c.close()


def event(event_id: str, *, user: str = "alice", text: str = "Fix: teh cat",
          at: float = 100.0, kind: str = "acceptance") -> NewEvent:
    if kind == "prompt_edit":
        ev = FeedbackEvent(event_id, user, "bot", kind, edited_components={"system": "Be brief."})
    else:
        ev = FeedbackEvent(event_id, user, "bot", kind, input=(("user", text),), output="ok")
    return validate_event(ev, now=at)


def rows(conn: sqlite3.Connection, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(sql)]


def test_an_event_is_stored_whole_and_starts_its_example(conn: sqlite3.Connection) -> None:
    ev = event("e1")
    (result,) = insert_events(conn, [ev])
    assert result == IngestResult("e1", ev.example_id, duplicate=False)
    assert rows(conn, "SELECT user_id, event_id, program, kind, example_id, payload_json, "
                      "occurred_at, received_at FROM feedback_events") == [
        ("alice", "e1", "bot", "acceptance", ev.example_id, ev.payload_json, 100.0, 100.0)]
    assert rows(conn, "SELECT example_id, user_id, program, split, input_json, event_count, "
                      "created_at, updated_at FROM examples") == [
        (ev.example_id, "alice", "bot", ev.split, ev.input_json, 1, 100.0, 100.0)]


def test_events_about_the_same_input_fold_into_one_example(conn: sqlite3.Connection) -> None:
    first, second = event("e1", at=100.0), event("e2", at=250.0)
    results = insert_events(conn, [first, second])
    assert [r.example_id for r in results] == [first.example_id] * 2
    assert rows(conn, "SELECT event_count, created_at, updated_at FROM examples") == [
        (2, 100.0, 250.0)]


def test_a_stored_event_id_is_a_duplicate_and_changes_nothing(conn: sqlite3.Connection) -> None:
    original = event("e1", text="first input")
    insert_events(conn, [original])
    before = rows(conn, "SELECT * FROM examples"), rows(conn, "SELECT * FROM feedback_events")
    # Same user and event id, other content: the stored event stands, and says which example.
    results = insert_events(conn, [event("e1", text="other input", at=300.0)])
    assert results == [IngestResult("e1", original.example_id, duplicate=True)]
    assert (rows(conn, "SELECT * FROM examples"), rows(conn, "SELECT * FROM feedback_events")) \
        == before
    # A duplicate in a batch does not stop the events after it.
    again, fresh = insert_events(conn, [event("e1"), event("e2", at=400.0)])
    assert (again.duplicate, fresh.duplicate) == (True, False)
    assert rows(conn, "SELECT count(*) FROM feedback_events") == [(2,)]
    # Event ids are per user: bob's e1 is a new event.
    (bobs,) = insert_events(conn, [event("e1", user="bob")])
    assert not bobs.duplicate
    assert rows(conn, "SELECT user_id, event_count FROM examples ORDER BY user_id") == [
        ("alice", 1), ("alice", 1), ("bob", 1)]


def test_a_prompt_edit_is_logged_without_an_example(conn: sqlite3.Connection) -> None:
    results = insert_events(conn, [event("edit", kind="prompt_edit"),
                                   event("e1")])
    assert [(r.event_id, r.duplicate) for r in results] == [("edit", False), ("e1", False)]
    assert results[0].example_id == ""
    assert rows(conn, "SELECT event_id, example_id FROM feedback_events ORDER BY event_id") == [
        ("e1", results[1].example_id), ("edit", "")]
    assert rows(conn, "SELECT count(*) FROM examples") == [(1,)]
