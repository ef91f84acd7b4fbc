"""Writing feedback: the append-only event log and the examples events fold into."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from gepad.feedback.validation import NewEvent

__all__ = ["IngestResult", "insert_events"]


@dataclass(frozen=True, slots=True)
class IngestResult:
    event_id: str
    example_id: str
    duplicate: bool


_INSERT_EVENT = """
INSERT INTO feedback_events
    (user_id, event_id, program, kind, example_id, payload_json, occurred_at, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""
_UPSERT_EXAMPLE = """
INSERT INTO examples
    (example_id, user_id, program, split, input_json, event_count, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (example_id) DO UPDATE
    SET event_count = event_count + 1, updated_at = excluded.updated_at
"""
# SQLite's default limit on bound parameters is 32766 (3.32+); a user's ids go in chunks below it.
_LOOKUP_CHUNK = 900


def _stored_examples(
    conn: sqlite3.Connection, events: Sequence[NewEvent]
) -> dict[tuple[str, str], str]:
    """The example of every (user_id, event_id) of ``events`` that is stored already."""
    by_user: dict[str, list[str]] = {}
    for ev in events:
        by_user.setdefault(ev.user_id, []).append(ev.event_id)
    found: dict[tuple[str, str], str] = {}
    for user_id, ids in by_user.items():
        for start in range(0, len(ids), _LOOKUP_CHUNK):
            chunk = ids[start:start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT event_id, example_id FROM feedback_events "
                f"WHERE user_id = ? AND event_id IN ({marks})",
                (user_id, *chunk),
            )
            for event_id, example in rows:
                found[(user_id, event_id)] = example
    return found


def insert_events(conn: sqlite3.Connection, events: Sequence[NewEvent]) -> list[IngestResult]:
    """Store each event unless its (user_id, event_id) is already stored (or comes earlier in
    ``events``); fold new ones into their example. Runs inside the writer's transaction, which
    no other connection can write during, so the lookup before the inserts stays true."""
    seen = _stored_examples(conn, events)
    results = []
    rows = []
    examples = []
    for ev in events:
        key = (ev.user_id, ev.event_id)
        stored = seen.get(key)
        if stored is not None:
            results.append(IngestResult(ev.event_id, stored, duplicate=True))
            continue
        seen[key] = ev.example_id
        rows.append((ev.user_id, ev.event_id, ev.program, ev.kind, ev.example_id,
                     ev.payload_json, ev.occurred_at, ev.received_at))
        if ev.example_id:
            examples.append((ev.example_id, ev.user_id, ev.program, ev.split, ev.input_json,
                             ev.received_at, ev.received_at))
        results.append(IngestResult(ev.event_id, ev.example_id, duplicate=False))
    conn.executemany(_INSERT_EVENT, rows)
    conn.executemany(_UPSERT_EXAMPLE, examples)
    return results
