"""Each user's rubric and evaluator set (one row each per user and program, replaced whole when
it changes)."""

from __future__ import annotations

import sqlite3

from gepad.evaluator_set import EvaluatorSet
from gepad.rubric import Rubric

__all__ = [
    "read_evaluator_set",
    "read_program_rubrics",
    "read_rubric",
    "write_evaluator_set",
    "write_rubric",
]


def read_rubric(conn: sqlite3.Connection, user_id: str, program: str) -> Rubric:
    row = conn.execute("SELECT rubric_json FROM rubrics WHERE user_id = ? AND program = ?",
                       (user_id, program)).fetchone()
    return Rubric() if row is None else Rubric.from_json(str(row[0]))


def write_rubric(conn: sqlite3.Connection, user_id: str, program: str, rubric: Rubric) -> None:
    conn.execute(
        "INSERT INTO rubrics (user_id, program, rubric_json, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (user_id, program) DO UPDATE SET rubric_json = excluded.rubric_json, "
        "updated_at = excluded.updated_at",
        (user_id, program, rubric.to_json(), rubric.updated_at),
    )


def read_program_rubrics(conn: sqlite3.Connection, program: str) -> dict[str, Rubric]:
    rows = conn.execute("SELECT user_id, rubric_json FROM rubrics WHERE program = ? "
                        "ORDER BY user_id", (program,))
    return {str(user): Rubric.from_json(str(text)) for user, text in rows}


def read_evaluator_set(conn: sqlite3.Connection, user_id: str, program: str) -> EvaluatorSet:
    row = conn.execute("SELECT set_json FROM evaluator_sets WHERE user_id = ? AND program = ?",
                       (user_id, program)).fetchone()
    return EvaluatorSet() if row is None else EvaluatorSet.from_json(str(row[0]))


def write_evaluator_set(conn: sqlite3.Connection, user_id: str, program: str,
                        evaluators: EvaluatorSet) -> None:
    conn.execute(
        "INSERT INTO evaluator_sets (user_id, program, set_json, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (user_id, program) DO UPDATE SET set_json = excluded.set_json, "
        "updated_at = excluded.updated_at",
        (user_id, program, evaluators.to_json(), evaluators.updated_at),
    )
