"""The gepad.v1.Gepad service: checks who is asking and what they sent, then asks the parts.

Handlers raise gepad.errors (InvalidArgument, NotFound, ...); handlers.py turns them into statuses.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, Protocol

import anyio
import grpc

from gepad.adapters.host import TargetStatus
from gepad.caps import check_caps
from gepad.errors import InvalidArgument, NotFound, Unimplemented
from gepad.failure_modes import program_inventory
from gepad.feedback.validation import (
    NewEvent,
    check_id,
    check_program_name,
    validate_event,
)
from gepad.lineage import CandidateRecord, ServedState
from gepad.programs import BudgetCaps, ProgramRegistry, validate_program
from gepad.rounds.manager import FrontierView
from gepad.rpc.auth import Principal
from gepad.rpc.inflight import InflightBytes
from gepad.rpc.messages import (
    adapter_message,
    batch_result_message,
    budget_from_message,
    candidate_message,
    change_message,
    evaluators_message,
    event_from_message,
    frontier_message,
    program_from_message,
    program_message,
    progress_message,
    prompt_message,
    rubric_message,
    run_message,
)
from gepad.runs import Run, RunProgress
from gepad.serving.prompts import ServedPrompts
from gepad.store.contract import StoreContract
from gepad.store.ingest import IngestResult
from gepad.v1 import gepad_pb2 as pb

__all__ = ["MAX_BATCH_EVENTS", "MAX_STREAM_EVENTS", "EvolutionService", "GepadServicer"]

Context = grpc.aio.ServicerContext[Any, Any]
MAX_STREAM_EVENTS = 100_000
MAX_BATCH_EVENTS = 10_000
DEFAULT_INGEST_MAX_BYTES = 64 * 1024 * 1024
# Stands in a batch's outcome list for a valid event until the store answers for it.
_PENDING = IngestResult("", "", duplicate=False)

def _missing_program(program: str) -> str:
    return (f"program {program!r} does not exist; register it with `gepad programs set "
            f"{program} --system TEXT` (the UpsertProgram RPC)")


class EvolutionService(Protocol):
    """What the servicer needs from the evolution side of the daemon (the GEPA engine)."""

    async def evolve(self, user_id: str, program: str, *, actor: str, budget: BudgetCaps = ...,
                     max_iterations: int = ..., seed: int = ...,
                     may_raise: bool = ...) -> str: ...
    async def get_run(self, run_id: str) -> Run | None: ...
    async def list_runs(self, user_id: str, program: str, limit: int) -> list[Run]: ...
    def watch_run(self, run_id: str) -> AsyncIterator[RunProgress]: ...
    async def frontier(self, user_id: str, program: str) -> FrontierView: ...


class GepadServicer:
    """The gepad.v1.Gepad methods: each validates its request, asks the part that owns the data
    (programs, store, served prompts, rounds) and answers; the caller was already authenticated
    and checked against the RPC's access rule (handlers.py, access.py)."""

    def __init__(
        self,
        *,
        store: StoreContract,
        programs: ProgramRegistry,
        prompts: ServedPrompts,
        evolution: EvolutionService | None = None,
        on_feedback: Callable[[str, str, int], None] | None = None,
        on_program: Callable[[str], None] | None = None,
        adapters: Callable[[], list[TargetStatus]] | None = None,
        clock: Callable[[], float] = time.time,
        ingest_max_bytes: int = DEFAULT_INGEST_MAX_BYTES,
    ) -> None:
        """``on_program(name)``: a program was registered or changed (its seed may be new).
        ``adapters()``: the adapter targets' status, for ListAdapters. ``ingest_max_bytes``: the
        feedback bytes all ingest calls together may hold (`inflight`)."""
        self._store = store
        self._programs = programs
        self._prompts = prompts
        self._evolution = evolution
        self._on_feedback = on_feedback
        self._on_program = on_program
        self._adapters = adapters
        self._clock = clock
        self._program_lock = anyio.Lock()
        self._inflight = InflightBytes(ingest_max_bytes)

    # ------------------------------------------------------------------ helpers

    def _seed(self, program: str) -> CandidateRecord:
        seed = self._programs.seed(program)
        if seed is None:
            raise NotFound(_missing_program(program))
        return seed

    def _user_program(self, user_id: str, program: str) -> CandidateRecord:
        """The program's seed, after checking the names (the caller's reach to ``user_id`` is
        checked before any handler runs: access.py)."""
        check_id("user_id", user_id)
        check_program_name("program", program)
        return self._seed(program)

    def _require_evolution(self) -> EvolutionService:
        if self._evolution is None:
            raise Unimplemented("evolution is not enabled in this daemon")
        return self._evolution

    # ------------------------------------------------------------------ programs

    async def UpsertProgram(
        self, request: pb.UpsertProgramRequest, caller: Principal
    ) -> pb.UpsertProgramResponse:
        program = validate_program(program_from_message(request.program))
        async with self._program_lock:
            old = self._programs.get(program.name)
            if old is not None and replace(old, revision=0, updated_at=0.0) == program:
                # The same program again (a script re-run): nothing changed, nothing to bump.
                return pb.UpsertProgramResponse(program=program_message(old), created=False)
            program = replace(program, revision=old.revision + 1 if old else 1,
                              updated_at=self._clock())
            await self._store.upsert_program(program)
            self._programs.put(program)
        self._prompts.program_changed(program.name)
        if self._on_program is not None:
            self._on_program(program.name)
        return pb.UpsertProgramResponse(program=program_message(program), created=old is None)

    async def GetProgram(self, request: pb.GetProgramRequest, caller: Principal) -> pb.Program:
        check_program_name("name", request.name)
        program = self._programs.get(request.name)
        if program is None:
            raise NotFound(f"program {request.name!r} does not exist")
        return program_message(program)

    async def ListPrograms(
        self, request: pb.ListProgramsRequest, caller: Principal
    ) -> pb.ListProgramsResponse:
        return pb.ListProgramsResponse(programs=[program_message(p) for p in self._programs.all()])

    # ------------------------------------------------------------------ feedback

    async def RecordFeedback(
        self, request: pb.RecordFeedbackRequest, caller: Principal
    ) -> pb.RecordFeedbackResponse:
        if not request.HasField("event"):
            raise InvalidArgument("event", "is required")
        with self._inflight.reservation() as held:
            held.add(request.ByteSize())
            event = validate_event(event_from_message(request.event), now=self._clock())
            caller.require_user(event.user_id)
            self._seed(event.program)
            (result,) = await self._store.record_events([event], self._seed)
        self._notify([event], [result])
        return pb.RecordFeedbackResponse(
            event_id=result.event_id, duplicate=result.duplicate, example_id=result.example_id
        )

    async def StreamFeedback(
        self, requests: AsyncIterator[pb.FeedbackEvent], caller: Principal
    ) -> pb.StreamFeedbackResponse:
        # One transaction for the whole stream, so it is held until its end: ingest_max_bytes
        # bounds it (IngestFeedback commits batch by batch and holds one at a time).
        events = []
        index = 0
        with self._inflight.reservation() as held:
            async for message in requests:
                if index >= MAX_STREAM_EVENTS:
                    raise InvalidArgument(
                        "events", f"a stream holds at most {MAX_STREAM_EVENTS} events; split it"
                    )
                held.add(message.ByteSize())
                try:
                    event = validate_event(event_from_message(message), now=self._clock())
                    caller.require_user(event.user_id)
                    self._seed(event.program)
                except InvalidArgument as exc:
                    raise InvalidArgument(
                        f"events[{index}] (event_id {message.event_id!r}) {exc.field}",
                        exc.why + "; nothing from this stream was stored",
                    ) from None
                events.append(event)
                index += 1
            if not events:
                return pb.StreamFeedbackResponse()
            results = await self._store.record_events(events, self._seed)
        self._notify(events, results)
        duplicates = sum(r.duplicate for r in results)
        return pb.StreamFeedbackResponse(stored=len(results) - duplicates, duplicates=duplicates)

    async def RecordFeedbackBatch(
        self, request: pb.FeedbackBatch, caller: Principal
    ) -> pb.FeedbackBatchResult:
        with self._inflight.reservation() as held:
            held.add(request.ByteSize())
            return await self._ingest_batch(request, caller)

    async def IngestFeedback(
        self, requests: AsyncIterator[pb.FeedbackBatch], caller: Principal
    ) -> AsyncIterator[pb.FeedbackBatchResult]:
        # The next batch is read only when this generator is resumed, after the previous answer
        # was handed to gRPC: one batch held per call, the rest waits in the client's flow control.
        async for batch in requests:
            with self._inflight.reservation() as held:
                held.add(batch.ByteSize())
                result = await self._ingest_batch(batch, caller)
            yield result

    async def _ingest_batch(
        self, batch: pb.FeedbackBatch, caller: Principal
    ) -> pb.FeedbackBatchResult:
        """Validate each event on its own (a refusal is that event's result), then commit the
        valid ones in one transaction. A token that does not reach an event's user fails the
        whole call (PERMISSION_DENIED) with nothing stored: that is the caller's bug, not data."""
        if len(batch.events) > MAX_BATCH_EVENTS:
            raise InvalidArgument(
                "events", f"a batch holds at most {MAX_BATCH_EVENTS} events, got "
                f"{len(batch.events)}; split it"
            )
        now = self._clock()
        outcomes: list[IngestResult | InvalidArgument] = []
        valid: list[NewEvent] = []
        slots: list[int] = []
        for message in batch.events:
            try:
                event = validate_event(event_from_message(message), now=now)
            except InvalidArgument as exc:
                outcomes.append(exc)
                continue
            caller.require_user(event.user_id)
            if self._programs.seed(event.program) is None:
                outcomes.append(InvalidArgument("event.program", _missing_program(event.program)))
                continue
            slots.append(len(outcomes))
            outcomes.append(_PENDING)
            valid.append(event)
        if valid:
            results = await self._store.record_events(valid, self._seed)
            for slot, result in zip(slots, results, strict=True):
                outcomes[slot] = result
            self._notify(valid, results)
        return batch_result_message(
            batch.sequence, [m.event_id for m in batch.events], outcomes
        )

    def _notify(self, events: list[NewEvent], results: list[IngestResult]) -> None:
        if self._on_feedback is None:
            return
        counts = Counter(
            (e.user_id, e.program) for e, r in zip(events, results, strict=True) if not r.duplicate
        )
        for (user_id, program), n in counts.items():
            self._on_feedback(user_id, program, n)

    # ------------------------------------------------------------------ serving

    async def GetPrompt(self, request: pb.GetPromptRequest, caller: Principal) -> pb.Prompt:
        self._user_program(request.user_id, request.program)
        return prompt_message(self._served(request.user_id, request.program))

    async def WatchPrompt(
        self, request: pb.WatchPromptRequest, caller: Principal
    ) -> AsyncIterator[pb.Prompt]:
        self._user_program(request.user_id, request.program)
        async for state in self._prompts.watch(request.user_id, request.program):
            yield prompt_message(state)

    # ------------------------------------------------------------------ lineage

    async def ListLineage(
        self, request: pb.ListLineageRequest, caller: Principal
    ) -> pb.ListLineageResponse:
        seed = self._user_program(request.user_id, request.program)
        lineage = await self._store.lineage(request.user_id, request.program)
        candidates = lineage.candidates
        on_seed = lineage.served is None
        if on_seed and all(c.candidate_id != seed.candidate_id for c in candidates):
            candidates = [seed, *candidates]
        response = pb.ListLineageResponse(
            candidates=[candidate_message(c) for c in candidates],
            served_candidate_id=(
                lineage.served.candidate_id if lineage.served else seed.candidate_id
            ),
            history=[change_message(change) for change in lineage.changes],
        )
        return response

    async def Rollback(self, request: pb.RollbackRequest, caller: Principal) -> pb.Prompt:
        seed = self._user_program(request.user_id, request.program)
        check_id("candidate_id", request.candidate_id)
        if len(request.note) > 1024:
            raise InvalidArgument("note", "at most 1024 characters")
        if not await self._store.has_history(request.user_id, request.program):
            raise NotFound(
                f"user {request.user_id!r} has no history for program {request.program!r}"
            )
        current = self._served(request.user_id, request.program)
        if current.candidate_id == request.candidate_id and current.pinned:
            # Already served and pinned: nothing changes, so no new version and no history entry.
            return prompt_message(current)
        await self._store.serve(
            user_id=request.user_id, program=request.program,
            candidate=request.candidate_id, pinned=True, reason="rollback",
            actor=caller.actor, note=request.note, seed=seed,
        )
        return prompt_message(self._served(request.user_id, request.program))

    async def Unpin(self, request: pb.UnpinRequest, caller: Principal) -> pb.Prompt:
        seed = self._user_program(request.user_id, request.program)
        current = self._served(request.user_id, request.program)
        if current.pinned:
            await self._store.serve(
                user_id=request.user_id, program=request.program, candidate=current.candidate_id,
                pinned=False, reason="unpin", actor=caller.actor, note="", seed=seed,
            )
            current = self._served(request.user_id, request.program)
        return prompt_message(current)

    def _served(self, user_id: str, program: str) -> ServedState:
        served = self._prompts.get(user_id, program)
        assert served is not None  # the program exists: _user_program checked
        return served

    # ------------------------------------------------------------------ evolution

    async def Evolve(self, request: pb.EvolveRequest, caller: Principal) -> pb.EvolveResponse:
        self._user_program(request.user_id, request.program)
        if request.max_iterations < 0:
            raise InvalidArgument("max_iterations", "must not be negative")
        budget = budget_from_message(request.budget)
        check_caps("budget", budget)
        run_id = await self._require_evolution().evolve(
            request.user_id, request.program, actor=caller.actor,
            budget=budget, max_iterations=request.max_iterations,
            seed=request.seed, may_raise=caller.user is None,
        )
        return pb.EvolveResponse(run_id=run_id)

    async def _run(self, caller: Principal, run_id: str) -> Run:
        check_id("run_id", run_id)
        run = await self._require_evolution().get_run(run_id)
        if run is None or not caller.can_reach(run.user_id):
            # Another user's run is reported as missing: its id says nothing to this caller.
            raise NotFound(f"run {run_id!r} does not exist")
        return run

    async def GetRun(self, request: pb.GetRunRequest, caller: Principal) -> pb.Run:
        return run_message(await self._run(caller, request.run_id))

    async def ListRuns(self, request: pb.ListRunsRequest, caller: Principal) -> pb.ListRunsResponse:
        self._user_program(request.user_id, request.program)
        if not 0 <= request.limit <= 1000:
            raise InvalidArgument("limit", "must be within 0..1000 (0 = 20)")
        runs = await self._require_evolution().list_runs(
            request.user_id, request.program, request.limit or 20
        )
        return pb.ListRunsResponse(runs=[run_message(run) for run in runs])

    async def WatchRun(
        self, request: pb.WatchRunRequest, caller: Principal
    ) -> AsyncIterator[pb.RunProgress]:
        await self._run(caller, request.run_id)
        async for progress in self._require_evolution().watch_run(request.run_id):
            yield progress_message(progress)

    async def GetFrontier(
        self, request: pb.GetFrontierRequest, caller: Principal
    ) -> pb.GetFrontierResponse:
        self._user_program(request.user_id, request.program)
        view = await self._require_evolution().frontier(request.user_id, request.program)
        return frontier_message(view)

    # ------------------------------------------------------------------ rubric

    async def GetRubric(self, request: pb.GetRubricRequest, caller: Principal) -> pb.Rubric:
        self._user_program(request.user_id, request.program)
        rubric = await self._store.rubric(request.user_id, request.program)
        return rubric_message(request.user_id, request.program, rubric)

    async def ListEvaluators(self, request: pb.ListEvaluatorsRequest, caller: Principal
                             ) -> pb.ListEvaluatorsResponse:
        self._user_program(request.user_id, request.program)
        evaluators = await self._store.evaluator_set(request.user_id, request.program)
        modes = program_inventory(await self._store.program_rubrics(request.program))
        return evaluators_message(request.user_id, request.program, evaluators, modes,
                                  admin=caller.user is None)

    # ------------------------------------------------------------------ adapters

    async def ListAdapters(
        self, request: pb.ListAdaptersRequest, caller: Principal
    ) -> pb.ListAdaptersResponse:
        targets = self._adapters() if self._adapters is not None else []
        return pb.ListAdaptersResponse(targets=[adapter_message(t) for t in targets])
