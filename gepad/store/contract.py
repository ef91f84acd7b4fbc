"""The store as the rest of the daemon may rely on it: `StoreContract`, the records it answers
with, and `ServedChanges`, the observers of what users are served.

Every backend (the SQLite `Store`, the in-memory `MemoryStore`, a server database later) passes
the one behaviour suite, `tests/store/test_contract.py`. Decisions about the domain (what a
person's edit adds to a lineage, whom to promote) are made outside the store; a backend stores,
reads back, and makes each write all or nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gepad.deliveries import DeliveryRecord
from gepad.evaluator_set import EvaluatorSet
from gepad.feedback.validation import NewEvent
from gepad.lineage import CandidateRecord, ServedChange, ServedState
from gepad.programs import Program
from gepad.rubric import Rubric
from gepad.runs import Run
from gepad.store.ingest import IngestResult
from gepad.store.runs import EventRow, ExampleRecord, StepCommit

__all__ = ["Lineage", "RoundInputs", "ServedChanges", "StoreContract"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundInputs:
    """What a round starts from, read in one snapshot."""

    examples: list[ExampleRecord]  # by example id
    # Every event of the (user, program), in arrival order; example_id "" for one about no request
    # (a prompt edit), which the dataset skips and the rubric reads.
    events: list[EventRow]
    state_json: str | None
    evaluations: list[str]
    runs_today: list[Run]  # the user's rounds of this program started since the day began
    rubric: Rubric = field(default_factory=Rubric)


@dataclass(frozen=True)
class Lineage:
    candidates: list[CandidateRecord]  # oldest first
    served: ServedState | None  # None: never served anything, so on the program's seed
    changes: list[ServedChange]  # oldest first


class ServedChanges:
    """Everyone who must know that a user's served prompt changed (serving, the adapters'
    delivery host): each subscriber is called after the change is committed, in commit order."""

    def __init__(self) -> None:
        self._subscribers: list[Callable[[ServedState], None]] = []

    def subscribe(self, subscriber: Callable[[ServedState], None]) -> None:
        self._subscribers.append(subscriber)

    def __call__(self, state: ServedState) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(state)
            except Exception:  # one subscriber's fault must not hide the change from the rest
                log.exception("a served-prompt subscriber failed on %s/%s", state.user_id,
                              state.program)


class StoreContract(Protocol):
    """Every method the daemon calls on its store. A write returns once it is committed (durable,
    in a backend that keeps data); a write that raises has changed nothing."""

    served_changes: ServedChanges

    def close(self) -> None:
        """Release what the store holds; the daemon calls it last, after every write returned."""

    # ------------------------------------------------------------------ at start-up

    def load_programs(self) -> list[Program]: ...

    def load_served(self) -> list[ServedState]:
        """What every user who was ever served something is served now."""
        ...

    # ------------------------------------------------------------------ feedback and lineage

    async def record_events(
        self,
        events: Sequence[NewEvent],
        seeds: Callable[[str], CandidateRecord],
    ) -> list[IngestResult]:
        """Store the events, all or none; one result each, in order.

        An event whose (user_id, event_id) is stored already is a duplicate: it changes nothing
        and its result names the stored event's example. A new PROMPT_EDIT adds
        `gepad.lineage.human_edit_node` to the user's lineage and serves it in the same
        transaction, keeping the pin, or pinned when the event says ``pin`` (``seeds(program)``
        is the seed a user never served anything is on); `served_changes` hears of it after the
        commit.
        """
        ...

    async def has_history(self, user_id: str, program: str) -> bool:
        """Whether the user ever sent feedback (of any kind) for the program."""
        ...

    async def lineage(self, user_id: str, program: str) -> Lineage: ...

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
        """Point the served prompt at a node of the user's lineage (rollback, unpin, promotion)
        and record the change (at the store's clock); the version grows by one.

        A user never served anything is on ``seed`` at version 0, and the seed joins their
        lineage. A candidate not in the lineage raises `UnknownCandidateError` and changes
        nothing. With ``unless_pinned``, while the prompt is pinned nothing changes and None is
        returned, checked in the same transaction as the change.
        """
        ...

    # ------------------------------------------------------------------ programs

    async def upsert_program(self, program: Program) -> None: ...

    # ------------------------------------------------------------------ rounds

    async def insert_run(self, run: Run) -> None: ...

    async def commit_step(self, commit: StepCommit) -> None:
        """One engine step, whole: the engine state replaced, candidates added unless the user
        has them, evaluations added unless stored for their (candidate hash, example,
        evaluator), and the run's record updated (candidates take the run's id)."""
        ...

    async def finish_run(self, run: Run) -> None:
        """Write the run's final record."""
        ...

    async def get_run(self, run_id: str) -> Run | None: ...

    async def list_runs(self, user_id: str, program: str, limit: int) -> list[Run]:
        """The newest ``limit`` runs of a user's program, newest first (by start, then run id)."""
        ...

    async def pending_runs(self) -> list[Run]:
        """Every run still queued or running, oldest first."""
        ...

    async def engine_state(self, user_id: str, program: str) -> str | None: ...

    async def round_inputs(self, user_id: str, program: str, day_start: float) -> RoundInputs: ...

    async def rubric(self, user_id: str, program: str) -> Rubric:
        """The user's rubric; empty if none was made yet."""
        ...

    async def save_rubric(self, user_id: str, program: str, rubric: Rubric) -> None: ...

    async def program_rubrics(self, program: str) -> dict[str, Rubric]:
        """Every user's rubric of the program, by user id (the program-level inventory)."""
        ...

    async def evaluator_set(self, user_id: str, program: str) -> EvaluatorSet:
        """The user's tracked evaluators and their calibration; empty if none yet."""
        ...

    async def save_evaluator_set(self, user_id: str, program: str,
                                 evaluators: EvaluatorSet) -> None: ...

    async def users_with_new_events(self) -> list[tuple[str, str]]:
        """(user, program) pairs with feedback received after their last round started."""
        ...

    # ------------------------------------------------------------------ adapters' deliveries

    def load_deliveries(self) -> list[DeliveryRecord]:
        """Every target's last confirmed delivery per user and program (read at start-up)."""
        ...

    async def record_delivery(self, record: DeliveryRecord) -> None:
        """Replace the target's record for that user and program."""
        ...
