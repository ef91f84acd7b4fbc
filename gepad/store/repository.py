"""The SQLite store: `StoreContract` over the one writer and short-lived readers.

Writes go through the one Writer (group commit); reads use their own short-lived connections,
which WAL lets run beside the writer. Raw connections never leave this class: the rest of the
daemon sees only the contract's typed methods.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import anyio
from sqlmodel import Session, select

from gepad.deliveries import DeliveryRecord
from gepad.evaluator_set import EvaluatorSet
from gepad.feedback.validation import NewEvent
from gepad.lineage import CandidateRecord, ServedState, human_edit_node
from gepad.programs import Program, program_from_json, program_to_json
from gepad.rubric import Rubric
from gepad.runs import Run
from gepad.store import runs
from gepad.store.contract import Lineage, RoundInputs, ServedChanges, StoreContract
from gepad.store.database import BUSY_TIMEOUT_MS, open_reader_engine
from gepad.store.deliveries import read_deliveries, write_delivery
from gepad.store.ingest import IngestResult, insert_events
from gepad.store.lineage import (
    insert_candidate,
    read_all_served,
    read_candidates,
    read_changes,
    read_served,
    set_served,
)
from gepad.store.rubrics import (
    read_evaluator_set,
    read_program_rubrics,
    read_rubric,
    write_evaluator_set,
    write_rubric,
)
from gepad.store.tables import ProgramRow
from gepad.store.writer import Writer

__all__ = ["Store"]

T = TypeVar("T")


class Store(StoreContract):
    """The daemon's SQLite database: every write through the one `Writer`, reads on their own
    connections, and `served_changes` told of each committed change to what a user is served."""

    def __init__(self, path: Path, writer: Writer, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.writer = writer
        self.served_changes = ServedChanges()
        self._clock = clock
        self._engine = open_reader_engine(path)
        self._readers = anyio.CapacityLimiter(4)

    def close(self) -> None:
        self._engine.dispose()

    # ------------------------------------------------------------------ reads

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            conn.execute("PRAGMA query_only = ON")
            yield conn
        finally:
            conn.close()

    async def _query(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with self._read() as conn:
                return fn(conn)

        return await anyio.to_thread.run_sync(run, limiter=self._readers)

    def load_programs(self) -> list[Program]:
        with Session(self._engine) as session:
            return [
                program_from_json(row.spec_json, revision=row.revision, updated_at=row.updated_at)
                for row in session.exec(select(ProgramRow))
            ]

    def load_served(self) -> list[ServedState]:
        with self._read() as conn:
            return read_all_served(conn)

    async def lineage(self, user_id: str, program: str) -> Lineage:
        def read(conn: sqlite3.Connection) -> Lineage:
            return Lineage(
                read_candidates(conn, user_id, program),
                read_served(conn, user_id, program),
                read_changes(conn, user_id, program),
            )

        return await self._query(read)

    async def has_history(self, user_id: str, program: str) -> bool:
        def read(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM feedback_events WHERE user_id = ? AND program = ? LIMIT 1",
                (user_id, program),
            ).fetchone()
            return row is not None

        return await self._query(read)

    # ------------------------------------------------------------------ writes

    async def upsert_program(self, program: Program) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO programs (name, spec_json, revision, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET spec_json = excluded.spec_json, "
                "revision = excluded.revision, updated_at = excluded.updated_at",
                (program.name, program_to_json(program), program.revision, program.updated_at),
            )

        await self.writer.submit(op)

    async def record_events(
        self,
        events: Sequence[NewEvent],
        seeds: Callable[[str], CandidateRecord],
    ) -> list[IngestResult]:
        """Store events in one transaction. A new PROMPT_EDIT also becomes a human_edit node
        (child of what the user is served) and is served, pinned if the event says so:
        `served_changes` after commit."""

        def op(conn: sqlite3.Connection) -> tuple[list[IngestResult], list[ServedState]]:
            results = insert_events(conn, events)
            changes = []
            for ev, result in zip(events, results, strict=True):
                if ev.edited_components is None or result.duplicate:
                    continue
                changes.append(self._apply_edit(conn, ev, seeds(ev.program)))
            return results, changes

        def after(outcome: tuple[list[IngestResult], list[ServedState]]) -> None:
            for state in outcome[1]:
                self.served_changes(state)

        results, _ = await self.writer.submit(op, after_commit=after)
        return results

    @staticmethod
    def _apply_edit(conn: sqlite3.Connection, ev: NewEvent, seed: CandidateRecord) -> ServedState:
        assert ev.edited_components is not None
        current = read_served(conn, ev.user_id, ev.program)
        node = human_edit_node(ev.edited_components, served=current, seed=seed,
                               event_id=ev.event_id, at=ev.received_at)
        insert_candidate(conn, ev.user_id, ev.program, node)
        return set_served(
            conn, user_id=ev.user_id, program=ev.program, candidate_id=node.candidate_id,
            pinned=ev.pin or (current.pinned if current else False), reason="human_edit",
            actor=f"user:{ev.user_id}", note=f"event {ev.event_id}", at=ev.received_at, seed=seed,
        )

    async def serve(
        self,
        *,
        user_id: str,
        program: str,
        candidate: str,
        pinned: bool,
        reason: str,
        actor: str,
        note: str,
        seed: CandidateRecord,
        unless_pinned: bool = False,
    ) -> ServedState | None:
        """Point the served prompt at an existing lineage node (rollback, unpin, promotion).

        With ``unless_pinned`` nothing changes (and None is returned) while the user's prompt is
        pinned; the check is in the same transaction as the change, so a rollback that lands
        while a round is finishing always wins.
        """

        def op(conn: sqlite3.Connection) -> ServedState | None:
            if unless_pinned:
                current = read_served(conn, user_id, program)
                if current is not None and current.pinned:
                    return None
            return set_served(
                conn, user_id=user_id, program=program, candidate_id=candidate, pinned=pinned,
                reason=reason, actor=actor, note=note, at=self._clock(), seed=seed,
            )

        def after(state: ServedState | None) -> None:
            if state is not None:
                self.served_changes(state)

        return await self.writer.submit(op, after_commit=after)

    # ------------------------------------------------------------------ runs

    async def pending_runs(self) -> list[Run]:
        """Every round a previous process left unfinished, oldest first."""
        return await self._query(runs.pending_runs)

    async def get_run(self, run_id: str) -> Run | None:
        return await self._query(lambda conn: runs.read_run(conn, run_id))

    async def list_runs(self, user_id: str, program: str, limit: int) -> list[Run]:
        """The newest ``limit`` run records of a user's program, newest first."""
        return await self._query(lambda conn: runs.read_runs(conn, user_id, program, limit))

    async def engine_state(self, user_id: str, program: str) -> str | None:
        return await self._query(lambda conn: runs.read_engine_state(conn, user_id, program))

    async def round_inputs(self, user_id: str, program: str, day_start: float) -> RoundInputs:
        def read(conn: sqlite3.Connection) -> RoundInputs:
            examples, events = runs.read_dataset_rows(conn, user_id, program)
            return RoundInputs(
                examples, events, runs.read_engine_state(conn, user_id, program),
                runs.read_evaluations(conn, user_id, program),
                runs.day_usage(conn, user_id, program, day_start),
                read_rubric(conn, user_id, program),
            )

        return await self._query(read)

    async def rubric(self, user_id: str, program: str) -> Rubric:
        return await self._query(lambda conn: read_rubric(conn, user_id, program))

    async def save_rubric(self, user_id: str, program: str, rubric: Rubric) -> None:
        await self.writer.submit(lambda conn: write_rubric(conn, user_id, program, rubric))

    async def program_rubrics(self, program: str) -> dict[str, Rubric]:
        return await self._query(lambda conn: read_program_rubrics(conn, program))

    async def evaluator_set(self, user_id: str, program: str) -> EvaluatorSet:
        return await self._query(lambda conn: read_evaluator_set(conn, user_id, program))

    async def save_evaluator_set(self, user_id: str, program: str,
                                 evaluators: EvaluatorSet) -> None:
        await self.writer.submit(
            lambda conn: write_evaluator_set(conn, user_id, program, evaluators))

    async def users_with_new_events(self) -> list[tuple[str, str]]:
        """(user, program) pairs with feedback newer than their last round."""
        return await self._query(lambda conn: list(runs.users_with_new_events(conn)))

    def load_deliveries(self) -> list[DeliveryRecord]:
        with self._read() as conn:
            return read_deliveries(conn)

    async def record_delivery(self, record: DeliveryRecord) -> None:
        await self.writer.submit(lambda conn: write_delivery(conn, record))

    async def insert_run(self, run: Run) -> None:
        await self.writer.submit(lambda conn: runs.insert_run(conn, run))

    async def finish_run(self, run: Run) -> None:
        """The run's final record; written even if the caller is being cancelled."""
        with anyio.CancelScope(shield=True):
            await self.writer.submit(lambda conn: runs.update_run(conn, run))

    async def commit_step(self, commit: runs.StepCommit) -> None:
        """One engine step, whole: state, candidates, evaluations and the run's counters in one
        transaction (so a round killed anywhere resumes from its last step), even if the caller
        is being cancelled."""
        with anyio.CancelScope(shield=True):
            await self.writer.submit(lambda conn: runs.commit_step(conn, commit))
