"""Schema migrations: named steps in order; ``PRAGMA user_version`` records how many have run.

This is the one definition of the schema. A released step is frozen: a change is a new step at the
end, never an edit. Each step runs its statements one by one (never split on ";", which may sit
inside a statement) in one transaction with its version bump, so a step is all or nothing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

__all__ = ["MIGRATIONS", "Migration", "migrate"]


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial", (
        """CREATE TABLE programs (
            name VARCHAR NOT NULL PRIMARY KEY,
            spec_json VARCHAR NOT NULL,
            revision INTEGER NOT NULL,
            updated_at FLOAT NOT NULL
        )""",
        """CREATE TABLE feedback_events (
            seq INTEGER NOT NULL PRIMARY KEY,
            user_id VARCHAR NOT NULL,
            event_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            example_id VARCHAR NOT NULL,
            payload_json VARCHAR NOT NULL,
            occurred_at FLOAT NOT NULL,
            received_at FLOAT NOT NULL,
            UNIQUE (user_id, event_id)
        )""",
        "CREATE INDEX ix_feedback_events_user_program_seq"
        " ON feedback_events (user_id, program, seq)",
        "CREATE INDEX ix_feedback_events_example_id ON feedback_events (example_id)",
        """CREATE TABLE examples (
            example_id VARCHAR NOT NULL PRIMARY KEY,
            user_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            split VARCHAR NOT NULL,
            input_json VARCHAR NOT NULL,
            event_count INTEGER NOT NULL,
            created_at FLOAT NOT NULL,
            updated_at FLOAT NOT NULL
        )""",
        "CREATE INDEX ix_examples_user_program ON examples (user_id, program)",
        """CREATE TABLE candidates (
            user_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            candidate_id VARCHAR NOT NULL,
            parent_ids_json VARCHAR NOT NULL,
            origin VARCHAR NOT NULL,
            components_json VARCHAR NOT NULL,
            rationale VARCHAR NOT NULL,
            run_id VARCHAR NOT NULL,
            created_at FLOAT NOT NULL,
            PRIMARY KEY (user_id, program, candidate_id)
        )""",
        """CREATE TABLE served (
            user_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            candidate_id VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            pinned BOOLEAN NOT NULL,
            updated_at FLOAT NOT NULL,
            PRIMARY KEY (user_id, program)
        )""",
        """CREATE TABLE served_changes (
            id INTEGER NOT NULL PRIMARY KEY,
            user_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            from_candidate_id VARCHAR NOT NULL,
            to_candidate_id VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            actor VARCHAR NOT NULL,
            pinned BOOLEAN NOT NULL,
            note VARCHAR NOT NULL,
            at FLOAT NOT NULL
        )""",
        "CREATE INDEX ix_served_changes_user_program ON served_changes (user_id, program)",
        """CREATE TABLE runs (
            run_id VARCHAR NOT NULL PRIMARY KEY,
            user_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            "trigger" VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            run_json VARCHAR NOT NULL,
            started_at FLOAT NOT NULL,
            finished_at FLOAT
        )""",
        "CREATE INDEX ix_runs_user_program ON runs (user_id, program, started_at)",
        """CREATE TABLE engine_states (
            user_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            state_json VARCHAR NOT NULL,
            updated_at FLOAT NOT NULL,
            PRIMARY KEY (user_id, program)
        )""",
        """CREATE TABLE evaluations (
            candidate_hash VARCHAR NOT NULL,
            example_id VARCHAR NOT NULL,
            evaluator_version VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            payload_json VARCHAR NOT NULL,
            created_at FLOAT NOT NULL,
            PRIMARY KEY (candidate_hash, example_id, evaluator_version)
        )""",
        "CREATE INDEX ix_evaluations_user_program ON evaluations (user_id, program)",
    )),
    Migration("0002_rubrics", (
        """CREATE TABLE rubrics (
            user_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            rubric_json VARCHAR NOT NULL,
            updated_at FLOAT NOT NULL,
            PRIMARY KEY (user_id, program)
        )""",
    )),
    Migration("0003_deliveries", (
        """CREATE TABLE deliveries (
            target VARCHAR NOT NULL,
            user_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            candidate_id VARCHAR NOT NULL,
            version INTEGER NOT NULL,
            delivered_at FLOAT NOT NULL,
            PRIMARY KEY (target, user_id, program)
        )""",
    )),
    Migration("0004_evaluators", (
        """CREATE TABLE evaluator_sets (
            user_id VARCHAR NOT NULL,
            program VARCHAR NOT NULL,
            set_json VARCHAR NOT NULL,
            updated_at FLOAT NOT NULL,
            PRIMARY KEY (user_id, program)
        )""",
    )),
)


def migrate(conn: sqlite3.Connection) -> int:
    """Run the migrations this database has not seen, each in its own transaction."""
    (done,) = conn.execute("PRAGMA user_version").fetchone()
    if done > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {done} is newer than this gepad ({len(MIGRATIONS)})"
        )
    for index in range(done, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[index].statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {index + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
