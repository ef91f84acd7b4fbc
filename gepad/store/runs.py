"""What evolution reads and writes: the dataset's raw rows, engine states, evaluations and runs.

A step is committed whole: its engine state, the candidates and evaluations it produced and the
run's counters go into one transaction, so a round killed anywhere resumes from its last step.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "EventRow",
    "ExampleRecord",
    "StepCommit",
    "commit_step",
    "day_usage",
    "insert_run",
    "pending_rounds",
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
    kind: str
    payload_json: str


@dataclass(frozen=True)
class StepCommit:
    user_id: str
    program: str
    run_id: str
    state_json: str
    # (candidate_id, parent ids, origin, components, rationale, created_at)
    candidates: Sequence[tuple[str, Sequence[str], str, Mapping[str, str], str, float]]
    # (candidate content hash, example id, evaluator key, payload json)
    evaluations: Sequence[tuple[str, str, str, str]]
    run_status: str
    run_json: str
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
        EventRow(*row)
        for row in conn.execute(
            "SELECT example_id, kind, payload_json FROM feedback_events "
            "WHERE user_id = ? AND program = ? AND example_id != '' ORDER BY seq",
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
    conn.execute(
        "INSERT INTO engine_states (user_id, program, state_json, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (user_id, program) DO UPDATE SET state_json = excluded.state_json, "
        "updated_at = excluded.updated_at",
        (commit.user_id, commit.program, commit.state_json, commit.at),
    )
    conn.executemany(
        "INSERT INTO candidates (user_id, program, candidate_id, parent_ids_json, origin, "
        "components_json, rationale, run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [
            (commit.user_id, commit.program, cid, json.dumps(list(parents)), origin,
             json.dumps(dict(components), ensure_ascii=False), rationale, commit.run_id, created)
            for cid, parents, origin, components, rationale, created in commit.candidates
        ],
    )
    conn.executemany(
        "INSERT INTO evaluations (candidate_hash, example_id, evaluator_version, user_id, "
        "program, payload_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            (chash, example, evaluator, commit.user_id, commit.program, payload, commit.at)
            for chash, example, evaluator, payload in commit.evaluations
        ],
    )
    # A step never finishes its run: the round's end writes finished_at.
    update_run(conn, commit.run_id, commit.run_status, commit.run_json, None)


def insert_run(
    conn: sqlite3.Connection, run_id: str, user_id: str, program: str, trigger: str,
    status: str, run_json: str, at: float,
) -> None:
    conn.execute(
        'INSERT INTO runs (run_id, user_id, program, "trigger", status, run_json, started_at) '
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (run_id, user_id, program, trigger, status, run_json, at),
    )


def update_run(
    conn: sqlite3.Connection, run_id: str, status: str, run_json: str, finished_at: float | None
) -> None:
    conn.execute(
        "UPDATE runs SET status = ?, run_json = ?, finished_at = ? WHERE run_id = ?",
        (status, run_json, finished_at, run_id),
    )


def read_run(conn: sqlite3.Connection, run_id: str) -> str | None:
    row = conn.execute("SELECT run_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return None if row is None else str(row[0])


def read_runs(conn: sqlite3.Connection, user_id: str, program: str, limit: int) -> list[str]:
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT run_json FROM runs WHERE user_id = ? AND program = ? "
            "ORDER BY started_at DESC, run_id DESC LIMIT ?",
            (user_id, program, limit),
        )
    ]


def pending_rounds(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """Runs a stopped daemon left queued or running: (run_id, user_id, program)."""
    return [
        (str(r[0]), str(r[1]), str(r[2]))
        for r in conn.execute(
            "SELECT run_id, user_id, program FROM runs WHERE status IN ('queued', 'running') "
            "ORDER BY started_at"
        )
    ]


def day_usage(conn: sqlite3.Connection, user_id: str, program: str, since: float) -> list[str]:
    """The run records of this user's rounds started since ``since`` (for per-day budgets)."""
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT run_json FROM runs WHERE user_id = ? AND program = ? AND started_at >= ?",
            (user_id, program, since),
        )
    ]


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
