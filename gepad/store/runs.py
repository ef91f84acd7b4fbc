"""What evolution reads and writes: the dataset's raw rows, engine states, evaluations and runs.

A step is committed whole: its engine state, the candidates and evaluations it produced and the
run's counters go into one transaction, so a round killed anywhere resumes from its last step.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gepad.feedback.event import FeedbackEvent, event_from_json
from gepad.lineage import CandidateRecord
from gepad.runs import Run, run_from_json, run_to_json

__all__ = [
    "EventRow",
    "ExampleRecord",
    "StepCommit",
    "commit_step",
    "day_usage",
    "insert_run",
    "pending_runs",
    "read_dataset_rows",
    "read_engine_state",
    "read_evaluations",
    "read_run",
    "read_runs",
    "update_run",
    "users_with_new_events",
]


@dataclass(frozen=True, slots=True)
class ExampleRecord:
    example_id: str
    split: str
    input_json: str


@dataclass(frozen=True, slots=True)
class EventRow:
    example_id: str
    event: FeedbackEvent


@dataclass(frozen=True)
class StepCommit:
    """One engine step of ``run``, committed whole."""

    run: Run
    state_json: str
    candidates: Sequence[CandidateRecord]
    # (candidate content hash, example id, evaluator key, payload json)
    evaluations: Sequence[tuple[str, str, str, str]]
    at: float


def read_dataset_rows(
    conn: sqlite3.Connection, user_id: str, program: str
) -> tuple[list[ExampleRecord], list[EventRow]]:
    examples = [
        ExampleRecord(*row)
        for row in conn.execute(
            "SELECT example_id, split, input_json FROM examples "
            "WHERE user_id = ? AND program = ? ORDER BY example_id",
            (user_id, program),
        )
    ]
    events = [
        EventRow(example, event_from_json(payload))
        for example, payload in conn.execute(
            "SELECT example_id, payload_json FROM feedback_events "
            "WHERE user_id = ? AND program = ? ORDER BY seq",
            (user_id, program),
        )
    ]
    return examples, events


def read_engine_state(conn: sqlite3.Connection, user_id: str, program: str) -> str | None:
    row = conn.execute(
        "SELECT state_json FROM engine_states WHERE user_id = ? AND program = ?",
        (user_id, program),
    ).fetchone()
    return None if row is None else str(row[0])


def read_evaluations(conn: sqlite3.Connection, user_id: str, program: str) -> list[str]:
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT payload_json FROM evaluations WHERE user_id = ? AND program = ?",
            (user_id, program),
        )
    ]


def commit_step(conn: sqlite3.Connection, commit: StepCommit) -> None:
    user_id, program = commit.run.user_id, commit.run.program
    conn.execute(
        "INSERT INTO engine_states (user_id, program, state_json, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (user_id, program) DO UPDATE SET state_json = excluded.state_json, "
        "updated_at = excluded.updated_at",
        (user_id, program, commit.state_json, commit.at),
    )
    conn.executemany(
        "INSERT INTO candidates (user_id, program, candidate_id, parent_ids_json, origin, "
        "components_json, rationale, run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [
            (user_id, program, c.candidate_id, json.dumps(list(c.parent_ids)), c.origin,
             json.dumps(dict(c.components), ensure_ascii=False), c.rationale, commit.run.run_id,
             c.created_at)
            for c in commit.candidates
        ],
    )
    conn.executemany(
        "INSERT INTO evaluations (candidate_hash, example_id, evaluator_version, user_id, "
        "program, payload_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (chash, example, evaluator, user_id, program, payload, commit.at)
            for chash, example, evaluator, payload in commit.evaluations
        ],
    )
    update_run(conn, commit.run)


def insert_run(conn: sqlite3.Connection, run: Run) -> None:
    conn.execute(
        'INSERT INTO runs (run_id, user_id, program, "trigger", status, run_json, started_at, '
        "finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (run.run_id, run.user_id, run.program, run.trigger, run.status, run_to_json(run),
         run.started_at, run.finished_at),
    )


def update_run(conn: sqlite3.Connection, run: Run) -> None:
    conn.execute(
        "UPDATE runs SET status = ?, run_json = ?, finished_at = ? WHERE run_id = ?",
        (run.status, run_to_json(run), run.finished_at, run.run_id),
    )


_RUN_COLUMNS = "SELECT run_json, status, started_at, finished_at FROM runs"


def _runs(rows: Iterable[Sequence[Any]]) -> list[Run]:
    return [run_from_json(text, status=status, started_at=started, finished_at=finished)
            for text, status, started, finished in rows]


def read_run(conn: sqlite3.Connection, run_id: str) -> Run | None:
    found = _runs(conn.execute(f"{_RUN_COLUMNS} WHERE run_id = ?", (run_id,)))
    return found[0] if found else None


def read_runs(conn: sqlite3.Connection, user_id: str, program: str, limit: int) -> list[Run]:
    return _runs(conn.execute(
        f"{_RUN_COLUMNS} WHERE user_id = ? AND program = ? "
        "ORDER BY started_at DESC, run_id DESC LIMIT ?",
        (user_id, program, limit),
    ))


def pending_runs(conn: sqlite3.Connection) -> list[Run]:
    """Runs a stopped daemon left queued or running, oldest first."""
    return _runs(conn.execute(
        f"{_RUN_COLUMNS} WHERE status IN ('queued', 'running') ORDER BY started_at"
    ))


def day_usage(conn: sqlite3.Connection, user_id: str, program: str, since: float) -> list[Run]:
    """This user's rounds started since ``since`` (for per-day budgets)."""
    return _runs(conn.execute(
        f"{_RUN_COLUMNS} WHERE user_id = ? AND program = ? AND started_at >= ?",
        (user_id, program, since),
    ))


def users_with_new_events(conn: sqlite3.Connection) -> Iterable[tuple[str, str]]:
    """(user, program) pairs with feedback newer than their last round's start."""
    return [
        (str(r[0]), str(r[1]))
        for r in conn.execute(
            "SELECT e.user_id, e.program FROM feedback_events e GROUP BY e.user_id, e.program "
            "HAVING max(e.received_at) > coalesce((SELECT max(r.started_at) FROM runs r "
            "WHERE r.user_id = e.user_id AND r.program = e.program), 0)"
        )
    ]
