"""Lineage nodes and the served pointer: writes run in the writer, reads on a reader connection.

Every change of what a user is served is one row in ``served_changes`` (who, when, from, to, why),
and the version in ``served`` only ever grows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from gepad.errors import NotFound
from gepad.lineage import CandidateRecord, ServedChange, ServedState

__all__ = [
    "UnknownCandidateError",
    "insert_candidate",
    "read_all_served",
    "read_candidates",
    "read_changes",
    "read_served",
    "set_served",
]


class UnknownCandidateError(NotFound):
    """A lineage node the user does not have."""


def insert_candidate(
    conn: sqlite3.Connection, user_id: str, program: str, cand: CandidateRecord
) -> None:
    """Add a node unless it exists (ids are content hashes, so a repeat is the same node)."""
    conn.execute(
        "INSERT INTO candidates (user_id, program, candidate_id, parent_ids_json, origin, "
        "components_json, rationale, run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (user_id, program, cand.candidate_id, json.dumps(list(cand.parent_ids)), cand.origin,
         json.dumps(dict(cand.components), ensure_ascii=False), cand.rationale, cand.run_id,
         cand.created_at),
    )


def _candidate(row: Sequence[object]) -> CandidateRecord:
    cid, parents, origin, components, rationale, run_id, created_at = row
    return CandidateRecord(
        str(cid), tuple(json.loads(str(parents))), str(origin), json.loads(str(components)),
        str(rationale), str(run_id), float(created_at),  # type: ignore[arg-type]
    )


_CANDIDATE_COLUMNS = "candidate_id, parent_ids_json, origin, components_json, rationale, run_id, "\
    "created_at"


def read_candidates(conn: sqlite3.Connection, user_id: str, program: str) -> list[CandidateRecord]:
    rows = conn.execute(
        f"SELECT {_CANDIDATE_COLUMNS} FROM candidates WHERE user_id = ? AND program = ? "
        "ORDER BY created_at, candidate_id",
        (user_id, program),
    ).fetchall()
    return [_candidate(r) for r in rows]


def read_served(conn: sqlite3.Connection, user_id: str, program: str) -> ServedState | None:
    row = conn.execute(
        "SELECT s.candidate_id, c.components_json, s.version, s.pinned, s.updated_at "
        "FROM served s JOIN candidates c ON c.user_id = s.user_id AND c.program = s.program "
        "AND c.candidate_id = s.candidate_id WHERE s.user_id = ? AND s.program = ?",
        (user_id, program),
    ).fetchone()
    if row is None:
        return None
    return ServedState(user_id, program, row[0], json.loads(row[1]), row[2], bool(row[3]), row[4])


def read_all_served(conn: sqlite3.Connection) -> list[ServedState]:
    rows = conn.execute(
        "SELECT s.user_id, s.program, s.candidate_id, c.components_json, s.version, s.pinned, "
        "s.updated_at FROM served s JOIN candidates c ON c.user_id = s.user_id "
        "AND c.program = s.program AND c.candidate_id = s.candidate_id"
    ).fetchall()
    return [
        ServedState(r[0], r[1], r[2], json.loads(r[3]), r[4], bool(r[5]), r[6]) for r in rows
    ]


def read_changes(conn: sqlite3.Connection, user_id: str, program: str) -> list[ServedChange]:
    rows = conn.execute(
        "SELECT version, from_candidate_id, to_candidate_id, reason, actor, pinned, note, at "
        "FROM served_changes WHERE user_id = ? AND program = ? ORDER BY id",
        (user_id, program),
    ).fetchall()
    return [ServedChange(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7]) for r in rows]


def set_served(
    conn: sqlite3.Connection,
    *,
    user_id: str,
    program: str,
    candidate_id: str,
    pinned: bool,
    reason: str,
    actor: str,
    note: str,
    at: float,
    seed: CandidateRecord,
) -> ServedState:
    """Point the user's served prompt at ``candidate_id`` and record the change.

    A user who was never served anything is on the program's seed at version 0; the seed node is
    written into their lineage here, so "from" always names a node they can roll back to.
    """
    insert_candidate(conn, user_id, program, seed)
    row = conn.execute(
        f"SELECT {_CANDIDATE_COLUMNS} FROM candidates "
        "WHERE user_id = ? AND program = ? AND candidate_id = ?",
        (user_id, program, candidate_id),
    ).fetchone()
    if row is None:
        raise UnknownCandidateError(
            f"candidate {candidate_id!r} is not in the lineage of user {user_id!r} "
            f"for program {program!r}"
        )
    target = _candidate(row)
    current = conn.execute(
        "SELECT candidate_id, version FROM served WHERE user_id = ? AND program = ?",
        (user_id, program),
    ).fetchone()
    from_id, version = (current[0], current[1]) if current else (seed.candidate_id, 0)
    version += 1
    conn.execute(
        "INSERT INTO served (user_id, program, candidate_id, version, pinned, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, program) DO UPDATE SET "
        "candidate_id = excluded.candidate_id, version = excluded.version, "
        "pinned = excluded.pinned, updated_at = excluded.updated_at",
        (user_id, program, candidate_id, version, pinned, at),
    )
    conn.execute(
        "INSERT INTO served_changes (user_id, program, version, from_candidate_id, "
        "to_candidate_id, reason, actor, pinned, note, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (user_id, program, version, from_id, candidate_id, reason, actor, pinned, note, at),
    )
    return ServedState(user_id, program, candidate_id, target.components, version, pinned, at)
