"""Each user's rubric (one row per user and program, replaced whole when it changes)."""

from __future__ import annotations

import sqlite3

from gepad.rubric import Rubric

__all__ = ["read_rubric", "write_rubric"]


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
