"""The world behind gepad's engine seams (TaskRunner, Evaluator, ReflectionLM).

gepad's ``Example`` carries the request as chat messages; the world also needs the request's kind
(a real model infers it from the text), so the adapters look the world example up by id.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

from bench.world.dataset import WorldExample
from bench.world.progress import Trajectory
from bench.world.world import COMPONENT, SEED_PROMPT, World
from gepad.engine import (
    Budget,
    Candidate,
    ChatMessage,
    Dataset,
    EngineConfig,
    EngineState,
    Example,
    MemoryEvaluationStore,
    Reply,
    RunnerOutput,
    Seams,
    Split,
    Usage,
    Verdict,
    best_by_val,
    new_round,
    step,
)


def to_engine_example(ex: WorldExample, split: Split) -> Example:
    return Example(id=ex.id, split=split, input=(ChatMessage("user", ex.request),))


class Catalog:
    """World examples by id; grows as days pass in the incremental scenario."""

    def __init__(self, examples: Iterable[WorldExample] = ()) -> None:
        self.by_id: dict[str, WorldExample] = {}
        self.add(examples)

    def add(self, examples: Iterable[WorldExample]) -> None:
        for ex in examples:
            self.by_id[ex.id] = ex

    def __getitem__(self, example_id: str) -> WorldExample:
        return self.by_id[example_id]


class WorldRunner:
    def __init__(self, world: World, catalog: Catalog) -> None:
        self.world, self.catalog = world, catalog

    @property
    def version(self) -> str:
        return f"world-task-{self.world.seed}"

    async def run(self, candidate: Candidate, example: Example) -> RunnerOutput:
        ex = self.catalog[example.id]
        reply = await self.world.arun_task(candidate.components[COMPONENT], ex)
        tokens = reply.prompt_tokens + reply.completion_tokens
        return RunnerOutput(output=reply.text, trace={"kind": ex.kind}, usage=Usage(tokens, 0.0, 1))


class WorldEvaluator:
    def __init__(self, world: World, catalog: Catalog) -> None:
        self.world, self.catalog = world, catalog

    @property
    def version(self) -> str:
        return f"world-judge-{self.world.user.id}"

    async def evaluate(self, example: Example, output: str) -> Verdict:
        verdict = await self.world.ajudge(self.catalog[example.id], output)
        tokens = (len(output) + len(verdict.feedback)) // 4 + 1
        return Verdict(
            scores=dict(verdict.scores),
            aggregate=verdict.aggregate,
            feedback=verdict.feedback,
            usage=Usage(tokens, 0.0, 1),
        )


class WorldReflection:
    def __init__(self, world: World) -> None:
        self.world = world

    async def complete(self, prompt: str) -> Reply:
        reply = await self.world.areflect(prompt)
        return Reply(
            text=reply.text,
            usage=Usage(reply.prompt_tokens + reply.completion_tokens, 0.0, 1),
            # A real API reports a cut-off answer; gepad must not adopt it.
            finish_reason="length" if reply.truncated else "stop",
        )


def engine_examples(
    splits: Mapping[Split, Iterable[WorldExample]],
) -> list[Example]:
    return [to_engine_example(ex, split) for split, exs in splits.items() for ex in exs]


class GepadRun:
    """gepad's engine driven the way the daemon drives it: step until the round's budget is
    spent, committing each step's evaluations to a store and carrying its state forward.

    The state is serialized to JSON and read back between rounds, as the daemon does with SQLite,
    so the incremental scenario exercises exact resume rather than an in-memory shortcut.
    """

    def __init__(
        self,
        world: World,
        test: Sequence[WorldExample],
        config: EngineConfig | None = None,
        seed_prompt: str = SEED_PROMPT,
    ) -> None:
        self.world, self.test = world, list(test)
        self.config = config or EngineConfig(seed=world.seed)
        self.catalog = Catalog()
        self.store = MemoryEvaluationStore()
        self.seams = Seams(
            runner=WorldRunner(world, self.catalog),
            evaluator=WorldEvaluator(world, self.catalog),
            reflection=WorldReflection(world),
            store=self.store,
            clock=lambda: 0.0,
        )
        seed = Candidate.create({COMPONENT: seed_prompt})
        self.state_json = EngineState.initial([seed], seed=self.config.seed).to_json()
        self.examples: list[Example] = []
        self.traj = Trajectory()
        self._best_id: str | None = None
        self._start_calls = world.counters.metric_calls

    def add_examples(self, splits: Mapping[Split, Iterable[WorldExample]]) -> None:
        for split, exs in splits.items():
            exs = list(exs)
            self.catalog.add(exs)
            self.examples += [to_engine_example(ex, split) for ex in exs]

    def _track(self, state: EngineState) -> None:
        best = best_by_val(state)
        if best is not None:
            self.traj.best_val = float(state.scores.aggregate[state.index(best.id)].mean())
        if best is None or best.id == self._best_id:
            return
        self._best_id = best.id
        prompt = best.components[COMPONENT]
        self.traj.best_prompt = prompt
        calls = self.world.counters.metric_calls - self._start_calls
        self.traj.points.append((calls, self.world.true_score(prompt, self.test)))

    async def run_round(
        self,
        round_id: str,
        max_metric_calls: int | None,
        max_iterations: int | None = None,
        max_idle_steps: int = 50,
    ) -> EngineState:
        """One round: steps until the budget (or ``max_iterations``) is used up."""
        state = new_round(EngineState.from_json(self.state_json), round_id)
        dataset = Dataset(self.examples)
        budgets: tuple[Budget, ...] = (Budget(max_metric_calls=max_metric_calls),)
        iterations_at_start, idle = state.iteration, 0
        while max_iterations is None or state.iteration - iterations_at_start < max_iterations:
            before = state.iteration
            t0 = time.perf_counter()
            result = await step(state, dataset, self.seams, self.config, budgets)
            elapsed = time.perf_counter() - t0
            self.store.add(result.new_evaluations)
            state, budgets = result.state, result.budgets
            self.traj.total_calls += result.metric_calls
            self.traj.candidates += len(result.new_candidates)
            if state.iteration > before:
                self.traj.iteration_wall_s.append(elapsed)
                self.traj.iteration_accepted.append(result.accepted_id is not None)
            if result.accepted_id is not None:
                self.traj.child_val_calls.append(
                    sum(e.rollouts for e in result.new_evaluations if e.split == "val")
                )
            self._track(state)
            if result.event in ("budget_exhausted", "no_data", "error"):
                break
            # Steps that spend nothing (a parent perfect on a cached minibatch, a duplicate
            # proposal) are cheap but must not spin forever.
            idle = 0 if result.metric_calls else idle + 1
            if idle >= max_idle_steps:
                break
        self.traj.iterations = state.iteration
        self.state_json = state.to_json()
        return state
