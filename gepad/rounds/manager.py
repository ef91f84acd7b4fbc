"""Evolution rounds inside the daemon: start them, run them step by step, persist every step,
report progress, and promote the winner through the release gate.

One round at a time per (user, program); at most ``max_concurrent_rounds`` across the daemon.
A round interrupted by a crash or shutdown is resumed at start-up from its last committed step.
"""

from __future__ import annotations

import logging
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

import anyio
from anyio.abc import TaskGroup

from gepad.caps import DEFAULT_CAPS, BudgetCaps, effective_caps
from gepad.engine import (
    Budget,
    Candidate,
    Dataset,
    EngineConfig,
    EngineState,
    Evaluator,
    MemoryEvaluationStore,
    Seams,
    Usage,
    add_candidates,
    choose_promotion,
    frontier_of,
    frontier_report,
    new_round,
    step,
)
from gepad.engine.frontier import FrontierEntry, best_by_val
from gepad.errors import FailedPrecondition, NotFound
from gepad.evaluators.rubric_update import update_rubric
from gepad.feedback.event import FeedbackEvent
from gepad.lineage import CandidateRecord
from gepad.llm import LLMClient
from gepad.programs import Program, ProgramRegistry
from gepad.rounds.calibration_step import CalibrationPolicy, CalibrationStep, calibrate_evaluators
from gepad.rounds.evaluations import evaluation_from_json, evaluation_row
from gepad.rounds.examples import build_dataset
from gepad.rounds.failures import FailureTally
from gepad.rounds.sizing import iterations_for, merges_for, minibatch_for
from gepad.rubric import Rubric
from gepad.runs import Run, RunProgress, RunStatus
from gepad.serving.prompts import ServedPrompts
from gepad.store.contract import StoreContract
from gepad.store.runs import EventRow, StepCommit

__all__ = ["RoundManager", "SeamsFactory"]

log = logging.getLogger(__name__)

NO_CAPS = BudgetCaps()
N = TypeVar("N", int, float)
# With calibration off: a user's correction is an edit of the output the served prompt gave on
# that request, so token overlap with it favours the served prompt on every gate example: a drop
# there is no evidence of a regression, and it never blocks (it still counts in the aggregate).
# With calibration on, only the evaluators calibrated to gate decide (calibration_step.py).
_UNGATED = {"reference": 1.0}
_PINNED = "not promoted: the served prompt is pinned (after a rollback)"
# A perfect score on fewer val examples than this says too little to stop a round early.
MIN_VAL_TO_CONVERGE = 5
# Consecutive steps that change nothing (no candidate, no evaluation) before a round stops.
MAX_IDLE_STEPS = 3


class SeamsFactory(Protocol):
    """Builds the engine's seams for one program (task runner, evaluator panel, reflection LM)
    around the evaluation store and clock the round provides."""

    def problems(self, program: Program) -> list[str]:
        """Why the program's models cannot be called at all (e.g. a missing API key)."""
        ...

    def judge_client(self, program: Program) -> LLMClient:
        """The judge's model, which also keeps the user's rubric."""
        ...

    def __call__(self, program: Program, store: MemoryEvaluationStore,
                 rubric: Rubric | None = None, extra: Sequence[Evaluator] = (),
                 user_id: str = "") -> Seams: ...


@dataclass
class _Live:
    progress: RunProgress
    changed: anyio.Event = field(default_factory=anyio.Event)


def _rollouts(program: Program) -> int:
    return program.evolution.rollouts_per_example or 1


def engine_config(program: Program, seed: int, *, search_calls: int | None = None
                  ) -> EngineConfig:
    """The program's settings as the engine reads them; what it leaves at 0 is sized from the
    metric calls the round's search may spend (`gepad.rounds.sizing`)."""
    ev = program.evolution
    rollouts = _rollouts(program)
    minibatch = ev.minibatch_size or minibatch_for(search_calls, rollouts)
    iterations = ev.max_iterations_per_round or iterations_for(search_calls,
                                                               minibatch * rollouts)
    return EngineConfig(
        minibatch_size=minibatch,
        rollouts_per_example=rollouts,
        max_merges=ev.max_merges_per_round or merges_for(iterations),
        max_concurrency=ev.max_concurrency or 8,
        seed=seed,
    )


def _cap(value: N) -> N | None:
    """A cap as the engine reads it: 0 (unset) is no cap."""
    return value if value > 0 else None


def _day_start(now: float) -> float:
    return now - now % 86400


def _missing_splits(dataset: Dataset) -> str:
    counts = f"{len(dataset.train_ids)} train, {len(dataset.val_ids)} val, " \
             f"{len(dataset.gate_ids)} gate"
    return (f"a round needs at least one val and one gate example to choose and check a winner; "
            f"this user has {len(dataset)} examples ({counts}); more feedback on other requests "
            "fills them")


def _calls_left(budgets: tuple[Budget, ...]) -> int | None:
    caps = [b.max_metric_calls - b.metric_calls for b in budgets if b.max_metric_calls is not None]
    return max(0, min(caps)) if caps else None


def _set_aside(budgets: tuple[Budget, ...], calls: int) -> tuple[Budget, ...]:
    """The budgets with ``calls`` metric calls fewer (more, if negative) to spend."""
    return tuple(b if b.max_metric_calls is None else
                 replace(b, max_metric_calls=b.max_metric_calls - calls) for b in budgets)


@dataclass(frozen=True)
class _Search:
    """How a round's search ended: where it got, why it stopped, and what failed on the way."""

    state: EngineState
    budgets: tuple[Budget, ...]
    stopped: str
    tally: FailureTally
    failure: str | None = None  # the round failed: every call of a stage did


@dataclass(frozen=True)
class FrontierView:
    """A user's Pareto frontier as GetFrontier reports it."""

    served_candidate_id: str
    val_examples: int
    entries: list[tuple[CandidateRecord, FrontierEntry]]  # best val score first


class RoundManager:
    """Owns every GEPA round of the daemon: starts them (on request or from the scheduler), runs
    each step against the engine and commits it, gates and promotes the winner, resumes rounds a
    previous process left unfinished, and reports runs and frontiers to the RPCs."""

    def __init__(
        self,
        *,
        store: StoreContract,
        programs: ProgramRegistry,
        prompts: ServedPrompts,
        seams: SeamsFactory,
        max_concurrent_rounds: int = 2,
        default_caps: BudgetCaps = DEFAULT_CAPS,
        clock: Callable[[], float] = time.time,
        calibration: CalibrationPolicy | None = None,
    ) -> None:
        self._store = store
        self._calibration = calibration or CalibrationPolicy()
        self._default_caps = default_caps
        self._programs = programs
        self._prompts = prompts
        self._seams = seams
        self._clock = clock
        self._rounds = anyio.CapacityLimiter(max_concurrent_rounds)
        self._active: dict[tuple[str, str], str] = {}
        self._live: dict[str, _Live] = {}
        self._tg: TaskGroup | None = None

    def set_max_concurrent_rounds(self, limit: int) -> None:
        """A config reload's new limit: rounds running past it finish, new ones wait."""
        self._rounds.total_tokens = limit

    # ------------------------------------------------------------------ lifecycle

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
                  ) -> None:
        """Own the rounds' tasks; resume rounds a previous process left unfinished."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            for run in await self._store.pending_runs():
                if self._programs.get(run.program) is not None:
                    log.info("resuming run %s for %s/%s", run.run_id, run.user_id, run.program)
                    self._start(run)
            task_status.started()
            await anyio.sleep_forever()

    def _start(self, run: Run) -> None:
        assert self._tg is not None  # run() owns the rounds' task group
        self._active[(run.user_id, run.program)] = run.run_id
        self._live[run.run_id] = _Live(RunProgress(run.copy(), "queued"))
        self._tg.start_soon(self._round, run)

    # ------------------------------------------------------------------ EvolutionService

    async def evolve(
        self, user_id: str, program: str, *, actor: str, trigger: str = "manual",
        budget: BudgetCaps = NO_CAPS, max_iterations: int = 0, seed: int = 0,
        may_raise: bool = False,
    ) -> str:
        """Start a round for the user's program (or return the one already running). The
        request's ``budget`` may only lower the program's caps unless ``may_raise`` (admin)."""
        key = (user_id, program)
        if key in self._active:
            return self._active[key]  # one round at a time: the caller can watch this one
        registered = self._programs.get(program)
        if registered is not None and not registered.task_model.model:
            raise FailedPrecondition(
                f"program {program!r} has no task_model.model; set one to evolve it"
            )
        if registered is not None:
            effective_caps(registered.budget, self._default_caps, budget, may_raise=may_raise)
        if not await self._store.has_history(user_id, program):
            raise NotFound(f"user {user_id!r} has no feedback for program {program!r} yet")
        run = Run(run_id="r" + uuid.uuid4().hex[:15], user_id=user_id, program=program,
                  trigger=trigger, message=f"started by {actor}", budget=budget,
                  started_at=self._clock(), max_iterations=max_iterations, seed=seed)
        await self._store.insert_run(run)
        self._start(run)
        return run.run_id

    async def get_run(self, run_id: str) -> Run | None:
        live = self._live.get(run_id)
        if live is not None:
            return live.progress.run
        return await self._store.get_run(run_id)

    async def list_runs(self, user_id: str, program: str, limit: int) -> list[Run]:
        runs = await self._store.list_runs(user_id, program, limit)
        return [self._live[r.run_id].progress.run if r.run_id in self._live else r for r in runs]

    async def watch_run(self, run_id: str) -> AsyncIterator[RunProgress]:
        last: RunProgress | None = None
        while True:
            live = self._live.get(run_id)
            if live is None:
                run = await self.get_run(run_id)
                if run is not None and (last is None or not last.run.finished):
                    yield RunProgress(run, "finished")
                return
            if live.progress is not last:
                last = live.progress
                yield last
                if last.run.finished:
                    return
                # While this watcher was away the round may have published more, or finished:
                # look again before waiting for a change that may already have happened.
                continue
            await live.changed.wait()

    async def frontier(self, user_id: str, program: str) -> FrontierView:
        text = await self._store.engine_state(user_id, program)
        served = self._prompts.get(user_id, program)
        served_id = served.candidate_id if served else ""
        if text is None:
            return FrontierView(served_id, 0, [])
        state = EngineState.from_json(text)
        # Each entry as its lineage node, which knows the round that made it.
        lineage = await self._store.lineage(user_id, program)
        nodes = {c.candidate_id: c for c in lineage.candidates}
        entries = []
        for entry in frontier_report(state):
            c = entry.candidate
            node = nodes.get(c.id) or CandidateRecord(
                c.id, c.parent_ids, c.origin, c.components, c.rationale, "", c.created_at)
            entries.append((node, entry))
        return FrontierView(served_id, len(state.scores.columns), entries)

    # ------------------------------------------------------------------ one round

    def _publish(self, run: Run, event: str, detail: str = "") -> None:
        live = self._live[run.run_id]
        live.progress = RunProgress(run.copy(), event, detail)
        live.changed.set()
        live.changed = anyio.Event()

    async def _round(self, run: Run) -> None:
        key = (run.user_id, run.program)
        try:
            async with self._rounds:
                await self._evolve(run)
        except Exception as exc:  # a round's failure is recorded, never fatal to the daemon
            log.exception("run %s failed", run.run_id)
            run.status = "failed"
            run.message = f"{type(exc).__name__}: {exc}"
            await self._finish(run)
        finally:
            del self._active[key]
            # Watchers wake to find the run gone from the live table and read its final record.
            self._live.pop(run.run_id).changed.set()

    async def _finish(self, run: Run) -> None:
        run.finished_at = self._clock()
        await self._store.finish_run(run.copy())

    async def _evolve(self, run: Run) -> None:
        user_id, program_name = run.user_id, run.program
        program = self._programs.get(program_name)
        if program is None:
            raise NotFound(f"program {program_name!r} no longer exists")
        run.status = "running"
        # Report the caps in force (the program's and the daemon's defaults included), not only
        # the request's; evolve() already refused a user's request above them.
        run.budget = effective_caps(program.budget, self._default_caps, run.budget,
                                    may_raise=True)
        self._publish(run, "started")
        if self._prompts.is_pinned(user_id, program_name):
            await self._end(run, "succeeded", _PINNED)
            return
        # In a worker thread: the first call imports litellm, seconds the event loop cannot wait.
        problems = await anyio.to_thread.run_sync(self._seams.problems, program)
        if problems:
            await self._end(run, "failed", "failed before any model call: " + "; ".join(problems))
            return

        inputs = await self._store.round_inputs(user_id, program_name, _day_start(self._clock()))
        state_json, today = inputs.state_json, inputs.runs_today
        dataset = build_dataset(inputs.examples, inputs.events)
        if not dataset.val_ids or not dataset.gate_ids:
            await self._end(run, "succeeded", f"no decision: {_missing_splits(dataset)}")
            return
        rubric, rubric_note = await self._rubric(run, program, inputs.rubric,
                                                 [row.event for row in inputs.events])
        # The same examples, now with the rubric the reflection LM is to read.
        dataset = Dataset(dataset, [item.line() for item in rubric.items])
        calibrated = await self._calibrate(run, program, rubric, dataset, inputs.events)
        if calibrated.deciding == ():
            # Nothing could tell a better prompt from the served one: spend nothing on a search.
            await self._end(run, "succeeded", f"no decision: {calibrated.note}; more labelled "
                            f"feedback will re-calibrate the judge{rubric_note}")
            return
        cache = MemoryEvaluationStore(evaluation_from_json(t) for t in inputs.evaluations)
        seams = self._seams(program, cache, rubric, calibrated.members, user_id)
        seed = run.seed or zlib.crc32(run.run_id.encode())

        served = self._served_candidate(user_id, program_name)
        state = (EngineState.from_json(state_json) if state_json
                 else EngineState.initial([served], seed=seed))
        state = add_candidates(state, [served])
        if state.round_id != run.run_id:
            state = new_round(state, run.run_id, seed=seed)

        budgets = self._budgets(run.budget, run, today)
        round_cap = budgets[0]
        # The gate's rollouts are set aside before the search spends: a round always decides.
        gate = len(dataset.gate_ids) * _rollouts(program) * 2
        # Sized from the round's own cap rather than what is left of it, so that a round resumed
        # after a restart keeps the shape it started with.
        round_calls = round_cap.max_metric_calls
        config = engine_config(program, seed,
                               search_calls=None if round_calls is None else round_calls - gate)
        one_step = (len(dataset.val_ids) + 2 * config.minibatch_size) * config.rollouts_per_example
        left = _calls_left(budgets)
        # A round resumed after a restart has spent already: it goes on to its gate if it can.
        least = gate + (one_step if run.metric_calls == 0 else 0)
        if left is not None and left < least:
            await self._end(run, "succeeded", (
                f"no decision: {left} metric calls left cannot pay for one iteration "
                f"(~{one_step}) plus the gate ({gate}); raise max_metric_calls_per_round"))
            return
        # The cheapest iteration scores only its child on the minibatch (the parent's are cached).
        cheapest = config.minibatch_size * config.rollouts_per_example
        max_iterations = (run.max_iterations or program.evolution.max_iterations_per_round
                          or state.round_iterations
                          + iterations_for(None if left is None else left - gate, cheapest))
        search = await self._search(run, state, dataset, seams, cache, config,
                                    _set_aside(budgets, gate), max_iterations)
        if search.failure is not None:
            await self._end(run, "failed", search.failure)
            return
        await self._promote(run, search.state, dataset, seams, config,
                            _set_aside(search.budgets, -gate), calibrated)
        if search.tally.count:
            log.warning("run %s: %d model calls failed", run.run_id, search.tally.count)
        run.message += (f" (search stopped: {search.stopped}){search.tally.note()}{rubric_note}"
                        f"{calibrated.note}")
        run.status = "succeeded"
        await self._finish(run)

    async def _search(self, run: Run, state: EngineState, dataset: Dataset, seams: Seams,
                      cache: MemoryEvaluationStore, config: EngineConfig,
                      budgets: tuple[Budget, ...], max_iterations: int) -> _Search:
        """Engine steps, each committed, until the iterations, the budget or the gains run out."""
        tally = FailureTally()
        idle = 0
        while state.round_iterations < max_iterations:
            result = await step(state, dataset, seams, config, budgets)
            state, budgets = result.state, result.budgets
            cache.add(result.new_evaluations)
            tally.add(result.errors)
            tally.worked("rollout", len(result.new_evaluations))
            tally.worked("reflection", result.event in ("accepted", "rejected"))
            run.iterations = state.round_iterations
            if result.accepted_id is not None:
                run.accepted += 1
                run.merges += result.action == "merge"
            self._count(run, result.metric_calls, result.usage.calls, result.usage.tokens,
                        result.usage.cost_usd)
            self._frontier_stats(run, state)
            await self._commit(run, state, result.new_candidates, result.new_evaluations)
            self._publish(run, result.event, result.detail)
            failure = tally.round_failure()
            if failure is not None and not result.new_evaluations:
                return _Search(state, budgets, "", tally, failure)
            if result.event == "budget_exhausted":
                return _Search(state, budgets, "the budget left for the search is spent", tally)
            if result.event == "no_data":
                return _Search(state, budgets, result.detail, tally)
            if run.best_val_score >= 1.0 and len(dataset.val_ids) >= MIN_VAL_TO_CONVERGE:
                return _Search(state, budgets, "converged: the best candidate scores 1.0 on "
                               "every val example", tally)
            idle = idle + 1 if not (result.new_candidates or result.new_evaluations) else 0
            if idle >= MAX_IDLE_STEPS:
                return _Search(state, budgets, f"nothing to learn: {idle} steps in a row "
                               "changed nothing", tally)
        return _Search(state, budgets, f"{max_iterations} iterations", tally)

    async def _rubric(self, run: Run, program: Program, rubric: Rubric,
                      events: list[FeedbackEvent]) -> tuple[Rubric, str]:
        """The user's rubric with the feedback it has not read yet; a note for the run's message
        when that failed (the round goes on with the rubric it had)."""
        if rubric.events_seen >= len(events):
            return rubric, ""
        update = await update_rubric(self._seams.judge_client(program), rubric, events,
                                     self._clock())
        self._count(run, 0, update.usage.calls, update.usage.tokens, update.usage.cost_usd)
        if update.rubric != rubric:
            await self._store.save_rubric(run.user_id, run.program, update.rubric)
            n = len(update.rubric.items)
            self._publish(run, "rubric", f"{n} item" + ("" if n == 1 else "s"))
        if update.error is None:
            return update.rubric, ""
        log.warning("run %s: the rubric was not updated: %s", run.run_id, update.error)
        return update.rubric, f" (rubric not updated: {update.error})"

    async def _calibrate(self, run: Run, program: Program, rubric: Rubric, dataset: Dataset,
                         rows: list[EventRow]) -> CalibrationStep:
        """The user's evaluators kept calibrated (calibration_step.py); what changed goes to the
        run's progress stream and the log."""
        before = await self._store.evaluator_set(run.user_id, run.program)
        if not self._calibration.enabled:
            return CalibrationStep(before, (), None, "", Usage())
        # Each labelled output is compared with its example's correction, as the panel does.
        references = {row.event.event_id: reference for row in rows
                      if row.example_id in dataset
                      and (reference := dataset[row.example_id].reference) is not None}
        step_ = await calibrate_evaluators(
            program, rubric, [row.event for row in rows], references, before,
            self._seams.judge_client(program), self._calibration, self._clock())
        self._count(run, 0, step_.usage.calls, step_.usage.tokens, step_.usage.cost_usd)
        for line in step_.log:
            log.info("run %s: %s", run.run_id, line)
            self._publish(run, "evaluators", line)
        if step_.evaluators != before:
            await self._store.save_evaluator_set(run.user_id, run.program, step_.evaluators)
        return step_

    async def _end(self, run: Run, status: RunStatus, message: str) -> None:
        """End a round that decides nothing, saying why."""
        if status == "failed":
            log.warning("run %s %s", run.run_id, message)
        run.status = status
        run.message = message
        await self._finish(run)
        self._publish(run, "failed" if status == "failed" else "no_decision", message)

    async def _promote(self, run: Run, state: EngineState,
                       dataset: Dataset, seams: Seams, config: EngineConfig,
                       budgets: tuple[Budget, ...], calibrated: CalibrationStep) -> None:
        if self._prompts.is_pinned(run.user_id, run.program):
            run.message = _PINNED
            self._publish(run, "not_promoted", run.message)
            return
        program = self._programs.get(run.program)
        assert program is not None
        # Gate against what is served now: a person may have edited it while the round ran.
        served = self._served_candidate(run.user_id, run.program)
        result = await choose_promotion(
            state, dataset, seams, config, budgets, served,
            margin=program.evolution.promotion_margin,
            # The reference check blocks a regression only once it is calibrated to gate.
            dimension_tolerances=None if calibrated.reference_gates else _UNGATED,
            deciding_dimensions=calibrated.deciding,
            gated_dimensions=(None if calibrated.deciding is None
                              else (*calibrated.deciding, *calibrated.blocking)),
        )
        self._count(run, result.metric_calls, result.usage.calls, result.usage.tokens,
                    result.usage.cost_usd)
        decision = result.decision
        why = "; ".join(decision.reasons)
        await self._commit(run, state, (), result.new_evaluations)
        if not decision.promote or decision.candidate_id is None:
            self._publish(run, "not_promoted", why)
            run.message = f"not promoted: {why}"
            return
        seed = self._programs.seed(run.program)
        assert seed is not None
        changed = await self._store.serve(
            user_id=run.user_id, program=run.program, candidate=decision.candidate_id,
            pinned=False, reason="promotion", actor=f"engine:{run.run_id}", note=why, seed=seed,
            unless_pinned=True,
        )
        if changed is None:
            run.message = "not promoted: the prompt was pinned while the round ran"
            self._publish(run, "not_promoted", run.message)
            return
        run.promoted = True
        run.promoted_candidate_id = decision.candidate_id
        run.message = f"promoted {decision.candidate_id}: {why}"
        self._publish(run, "promoted", why)

    def _served_candidate(self, user_id: str, program: str) -> Candidate:
        prompt = self._prompts.get(user_id, program)
        assert prompt is not None
        return Candidate(id=prompt.candidate_id, components=dict(sorted(prompt.components.items())),
                         origin="seed" if prompt.version == 0 else "human_edit")

    @staticmethod
    def _budgets(b: BudgetCaps, run: Run, today: list[Run]) -> tuple[Budget, ...]:
        round_budget = Budget(
            max_metric_calls=_cap(b.max_metric_calls_per_round),
            max_tokens=_cap(b.max_tokens_per_round),
            max_cost_usd=_cap(b.max_cost_usd_per_round),
            metric_calls=run.metric_calls, tokens=run.tokens, cost_usd=run.cost_usd,
            llm_calls=run.llm_calls,
        )
        day_budget = Budget(
            max_metric_calls=_cap(b.max_metric_calls_per_day),
            max_tokens=_cap(b.max_tokens_per_day),
            max_cost_usd=_cap(b.max_cost_usd_per_day),
            metric_calls=sum(r.metric_calls for r in today),
            tokens=sum(r.tokens for r in today),
            cost_usd=sum(r.cost_usd for r in today),
            llm_calls=sum(r.llm_calls for r in today),
        )
        return (round_budget, day_budget)

    @staticmethod
    def _count(run: Run, metric_calls: int, llm_calls: int, tokens: int, cost: float) -> None:
        run.metric_calls += metric_calls
        run.llm_calls += llm_calls
        run.tokens += tokens
        run.cost_usd += cost

    @staticmethod
    def _frontier_stats(run: Run, state: EngineState) -> None:
        run.frontier_size = len(frontier_of(state.scores).members)
        best = best_by_val(state)
        if best is not None:
            agg = state.scores.aggregate[state.index(best.id)]
            run.best_val_score = float(agg.mean()) if agg.size else 0.0

    async def _commit(self, run: Run, state: EngineState, candidates: tuple[Candidate, ...],
                      evaluations: tuple[object, ...]) -> None:
        commit = StepCommit(
            run=run.copy(), state_json=state.to_json(),
            candidates=[CandidateRecord(c.id, c.parent_ids, c.origin, c.components, c.rationale,
                                        run.run_id, c.created_at) for c in candidates],
            evaluations=[evaluation_row(e) for e in evaluations],  # type: ignore[arg-type]
            at=self._clock(),
        )
        await self._store.commit_step(commit)

