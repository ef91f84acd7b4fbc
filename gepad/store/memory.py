"""`MemoryStore`: `StoreContract` in dicts and lists, a test double and the reference reading of
the contract, not a production backend (nothing survives the process).

It keeps what the SQLite store keeps, with the same keys, and passes the same behaviour suite
(`tests/store/test_contract.py`). A write works on the live tables and puts back a copy taken
before it if it raises: all or nothing, like the writer's savepoint per write, at the price of a
copy per write that only a test can afford.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from gepad.deliveries import DeliveryRecord
from gepad.evaluator_set import EvaluatorSet
from gepad.feedback.event import event_from_json
from gepad.feedback.validation import NewEvent
from gepad.lineage import CandidateRecord, ServedChange, ServedState, human_edit_node
from gepad.programs import Program, program_from_json, program_to_json
from gepad.rubric import Rubric
from gepad.runs import Run
from gepad.store.contract import Lineage, RoundInputs, ServedChanges, StoreContract
from gepad.store.ingest import IngestResult
from gepad.store.lineage import UnknownCandidateError
from gepad.store.runs import EventRow, ExampleRecord, StepCommit

__all__ = ["MemoryStore"]

_Key = tuple[str, str]  # (user_id, program)


@dataclass
class _Example:
    user_id: str
    program: str
    record: ExampleRecord


@dataclass
class _Tables:
    programs: dict[str, Program] = field(default_factory=dict)
    # By (user_id, event_id), the key that makes a retried event a duplicate; in arrival order.
    events: dict[tuple[str, str], NewEvent] = field(default_factory=dict)
    examples: dict[str, _Example] = field(default_factory=dict)
    candidates: dict[_Key, dict[str, CandidateRecord]] = field(default_factory=dict)
    served: dict[_Key, ServedState] = field(default_factory=dict)
    changes: dict[_Key, list[ServedChange]] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    engine_states: dict[_Key, str] = field(default_factory=dict)
    rubrics: dict[_Key, Rubric] = field(default_factory=dict)
    evaluator_sets: dict[_Key, EvaluatorSet] = field(default_factory=dict)
    # Keyed like the SQLite table: (candidate hash, example id, evaluator version), any user.
    evaluations: dict[tuple[str, str, str], tuple[_Key, str]] = field(default_factory=dict)
    # By (target, user_id, program).
    deliveries: dict[tuple[str, str, str], DeliveryRecord] = field(default_factory=dict)


class MemoryStore(StoreContract):
    """The store in memory, for tests of whatever uses a store; `clock` stamps serve()."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.served_changes = ServedChanges()
        self._clock = clock
        self._t = _Tables()

    def close(self) -> None:
        """Nothing is held open."""

    @contextmanager
    def _write(self) -> Iterator[_Tables]:
        before = copy.deepcopy(self._t)
        try:
            yield self._t
        except BaseException:
            self._t = before
            raise

    def load_programs(self) -> list[Program]:
        return list(self._t.programs.values())

    def load_served(self) -> list[ServedState]:
        return list(self._t.served.values())

    async def record_events(
        self,
        events: Sequence[NewEvent],
        seeds: Callable[[str], CandidateRecord],
    ) -> list[IngestResult]:
        results: list[IngestResult] = []
        changed: list[ServedState] = []
        with self._write() as t:
            for ev in events:
                stored = t.events.get((ev.user_id, ev.event_id))
                if stored is not None:
                    results.append(IngestResult(ev.event_id, stored.example_id, duplicate=True))
                    continue
                t.events[(ev.user_id, ev.event_id)] = ev
                if ev.example_id and ev.example_id not in t.examples:
                    t.examples[ev.example_id] = _Example(ev.user_id, ev.program, ExampleRecord(
                        ev.example_id, str(ev.split), ev.input_json))
                results.append(IngestResult(ev.event_id, ev.example_id, duplicate=False))
                if ev.edited_components is not None:
                    changed.append(self._apply_edit(t, ev, seeds(ev.program)))
        for state in changed:
            self.served_changes(state)
        return results

    def _apply_edit(self, t: _Tables, ev: NewEvent, seed: CandidateRecord) -> ServedState:
        assert ev.edited_components is not None
        current = t.served.get((ev.user_id, ev.program))
        node = human_edit_node(ev.edited_components, served=current, seed=seed,
                               event_id=ev.event_id, at=ev.received_at)
        t.candidates.setdefault((ev.user_id, ev.program), {}).setdefault(node.candidate_id, node)
        return self._set_served(
            t, ev.user_id, ev.program, node.candidate_id, seed,
            pinned=ev.pin or (current.pinned if current else False), reason="human_edit",
            actor=f"user:{ev.user_id}", note=f"event {ev.event_id}", at=ev.received_at,
        )

    async def has_history(self, user_id: str, program: str) -> bool:
        return any((e.user_id, e.program) == (user_id, program) for e in self._t.events.values())

    async def lineage(self, user_id: str, program: str) -> Lineage:
        key = (user_id, program)
        nodes = self._t.candidates.get(key, {}).values()
        return Lineage(sorted(nodes, key=lambda c: (c.created_at, c.candidate_id)),
                       self._t.served.get(key), list(self._t.changes.get(key, [])))

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
        with self._write() as t:
            current = t.served.get((user_id, program))
            if unless_pinned and current is not None and current.pinned:
                return None
            state = self._set_served(t, user_id, program, candidate, seed, pinned=pinned,
                                     reason=reason, actor=actor, note=note, at=self._clock())
        self.served_changes(state)
        return state

    @staticmethod
    def _set_served(t: _Tables, user_id: str, program: str, candidate: str,
                    seed: CandidateRecord, *, pinned: bool, reason: str, actor: str, note: str,
                    at: float) -> ServedState:
        key = (user_id, program)
        nodes = t.candidates.setdefault(key, {})
        nodes.setdefault(seed.candidate_id, seed)
        target = nodes.get(candidate)
        if target is None:
            raise UnknownCandidateError(
                f"candidate {candidate!r} is not in the lineage of user {user_id!r} "
                f"for program {program!r}"
            )
        current = t.served.get(key)
        from_id, version = (current.candidate_id, current.version) if current else (
            seed.candidate_id, 0)
        state = ServedState(user_id, program, candidate, dict(target.components), version + 1,
                            pinned, at)
        t.served[key] = state
        t.changes.setdefault(key, []).append(
            ServedChange(version + 1, from_id, candidate, reason, actor, pinned, note, at))
        return state

    async def upsert_program(self, program: Program) -> None:
        # Through its stored form, as the database keeps only what that form holds.
        stored = program_from_json(program_to_json(program), revision=program.revision,
                                   updated_at=program.updated_at)
        with self._write() as t:
            t.programs[program.name] = stored

    async def insert_run(self, run: Run) -> None:
        with self._write() as t:
            if run.run_id in t.runs:
                raise ValueError(f"run {run.run_id!r} is stored already")
            t.runs[run.run_id] = run.copy()

    async def commit_step(self, commit: StepCommit) -> None:
        key = (commit.run.user_id, commit.run.program)
        with self._write() as t:
            t.engine_states[key] = commit.state_json
            nodes = t.candidates.setdefault(key, {})
            for c in commit.candidates:
                nodes.setdefault(c.candidate_id, replace(c, run_id=commit.run.run_id,
                                                         components=dict(c.components)))
            for chash, example, evaluator, payload in commit.evaluations:
                t.evaluations.setdefault((chash, example, evaluator), (key, payload))
            self._update_run(t, commit.run)

    async def finish_run(self, run: Run) -> None:
        with self._write() as t:
            self._update_run(t, run)

    @staticmethod
    def _update_run(t: _Tables, run: Run) -> None:
        # As SQL's UPDATE: a run never inserted stays absent, and a run's start is fixed.
        stored = t.runs.get(run.run_id)
        if stored is not None:
            t.runs[run.run_id] = replace(run, started_at=stored.started_at)

    async def get_run(self, run_id: str) -> Run | None:
        run = self._t.runs.get(run_id)
        return None if run is None else run.copy()

    async def list_runs(self, user_id: str, program: str, limit: int) -> list[Run]:
        newest = sorted(self._runs_of(user_id, program), key=lambda r: (r.started_at, r.run_id),
                        reverse=True)
        return newest if limit < 0 else newest[:limit]  # SQL's LIMIT -1 is no limit

    async def pending_runs(self) -> list[Run]:
        pending = [r.copy() for r in self._t.runs.values() if r.status in ("queued", "running")]
        return sorted(pending, key=lambda r: r.started_at)

    def _runs_of(self, user_id: str, program: str) -> list[Run]:
        return [r.copy() for r in self._t.runs.values()
                if (r.user_id, r.program) == (user_id, program)]

    async def engine_state(self, user_id: str, program: str) -> str | None:
        return self._t.engine_states.get((user_id, program))

    async def round_inputs(self, user_id: str, program: str, day_start: float) -> RoundInputs:
        key = (user_id, program)
        t = self._t
        examples = sorted((e.record for e in t.examples.values()
                           if (e.user_id, e.program) == key), key=lambda r: r.example_id)
        events = [EventRow(e.example_id, event_from_json(e.payload_json))
                  for e in t.events.values() if (e.user_id, e.program) == key]
        evaluations = [payload for owner, payload in t.evaluations.values() if owner == key]
        today = sorted((r for r in self._runs_of(user_id, program) if r.started_at >= day_start),
                       key=lambda r: r.started_at)
        return RoundInputs(examples, events, t.engine_states.get(key), evaluations, today,
                           t.rubrics.get(key, Rubric()))

    async def rubric(self, user_id: str, program: str) -> Rubric:
        return self._t.rubrics.get((user_id, program), Rubric())

    async def save_rubric(self, user_id: str, program: str, rubric: Rubric) -> None:
        with self._write() as t:
            t.rubrics[(user_id, program)] = rubric

    async def program_rubrics(self, program: str) -> dict[str, Rubric]:
        return {user: r for (user, p), r in sorted(self._t.rubrics.items()) if p == program}

    async def evaluator_set(self, user_id: str, program: str) -> EvaluatorSet:
        return self._t.evaluator_sets.get((user_id, program), EvaluatorSet())

    async def save_evaluator_set(self, user_id: str, program: str,
                                 evaluators: EvaluatorSet) -> None:
        with self._write() as t:
            t.evaluator_sets[(user_id, program)] = evaluators

    async def users_with_new_events(self) -> list[tuple[str, str]]:
        last_event: dict[_Key, float] = {}
        for e in self._t.events.values():
            key = (e.user_id, e.program)
            last_event[key] = max(last_event.get(key, e.received_at), e.received_at)
        last_run: dict[_Key, float] = {}
        for r in self._t.runs.values():
            key = (r.user_id, r.program)
            last_run[key] = max(last_run.get(key, r.started_at), r.started_at)
        return sorted(key for key, at in last_event.items() if at > last_run.get(key, 0.0))

    def load_deliveries(self) -> list[DeliveryRecord]:
        return [self._t.deliveries[key] for key in sorted(self._t.deliveries)]

    async def record_delivery(self, record: DeliveryRecord) -> None:
        with self._write() as t:
            t.deliveries[(record.target, record.user_id, record.program)] = record
