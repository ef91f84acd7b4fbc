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
ON CONFLICT (user_id, event_id) DO NOTHING
"""
_UPSERT_EXAMPLE = """
INSERT INTO examples
    (example_id, user_id, program, split, input_json, event_count, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, 1, ?, ?)
ON CONFLICT (example_id) DO UPDATE
    SET event_count = event_count + 1, updated_at = excluded.updated_at
"""


def insert_events(conn: sqlite3.Connection, events: Sequence[NewEvent]) -> list[IngestResult]:
    """Store each event unless its (user_id, event_id) is already stored; fold new ones into
    their example. Runs inside the writer's transaction."""
    results = []
    for ev in events:
        cursor = conn.execute(
            _INSERT_EVENT,
            (ev.user_id, ev.event_id, ev.program, ev.kind, ev.example_id, ev.payload_json,
             ev.occurred_at, ev.received_at),
        )
        if cursor.rowcount == 0:
            row = conn.execute(
                "SELECT example_id FROM feedback_events WHERE user_id = ? AND event_id = ?",
                (ev.user_id, ev.event_id),
            ).fetchone()
            results.append(IngestResult(ev.event_id, row[0], duplicate=True))
            continue
        if ev.example_id:
            conn.execute(
                _UPSERT_EXAMPLE,
                (ev.example_id, ev.user_id, ev.program, ev.split, ev.input_json,
                 ev.received_at, ev.received_at),
            )
        results.append(IngestResult(ev.event_id, ev.example_id, duplicate=False))
    return results
