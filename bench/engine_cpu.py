"""Engine CPU per iteration at scale: a pool of N candidates already scored on M val examples,
instant seams, and ``time.process_time`` around each ``step``.

The seams return at once with fixed verdicts, so what is measured is the engine's own work per
iteration: syncing val columns, the Pareto frontier over the N×M matrix, parent choice, minibatch
sampling, cache lookups, budget reservations, the meta-prompt, and the rollout plumbing for the
six minibatch rollouts. A child that ties its parent is rejected, as most children are in a mature
pool; an accepted child also pays M val rollouts, reported separately.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import anyio
import numpy as np

from bench.report import median
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
    Usage,
    Verdict,
    step,
)
from gepad.engine.reflection import BEGIN, END

_DIMS = ("format", "tone", "length")


class _InstantRunner:
    version = "instant"

    async def run(self, candidate: Candidate, example: Example) -> RunnerOutput:
        return RunnerOutput(output="a reply", usage=Usage(10, 0.0, 1))


class _InstantJudge:
    """Scores 0.5 everywhere, or 0.95 for candidates whose text says "better": accepted, and
    above the pool's best, so progressive val scoring takes them through all of val."""

    version = "instant"

    async def evaluate(self, example: Example, output: str) -> Verdict:
        return Verdict(
            scores=dict.fromkeys(_DIMS, 0.5),
            aggregate=0.5,
            feedback="The answer used emojis; this user never wants emojis.",
            usage=Usage(10, 0.0, 1),
        )


class _BetterJudge(_InstantJudge):
    def __init__(self) -> None:
        self.current = ""

    async def evaluate(self, example: Example, output: str) -> Verdict:
        score = 0.95 if "better" in output else 0.5
        return Verdict(scores=dict.fromkeys(_DIMS, score), aggregate=score, feedback="ok")


class _EchoRunner(_InstantRunner):
    async def run(self, candidate: Candidate, example: Example) -> RunnerOutput:
        return RunnerOutput(output=candidate.components["system"], usage=Usage(10, 0.0, 1))


class _InstantReflection:
    def __init__(self, word: str = "variant") -> None:
        self.n, self.word = 0, word

    async def complete(self, prompt: str) -> Reply:
        self.n += 1
        text = f"Tightened the rules.\n{BEGIN}\nNew prompt {self.word} {self.n}.\n{END}"
        return Reply(text=text, usage=Usage(100, 0.0, 1), finish_reason="stop")


def populated(
    n_candidates: int, n_val: int, n_train: int, seed: int
) -> tuple[EngineState, Dataset]:
    """A state whose pool is ``n_candidates`` deep, every one scored on all ``n_val`` examples.

    Scores are quarter steps around a per-candidate quality, like judge aggregates, so the frontier
    holds a realistic mix of specialists rather than one dominant row.
    """
    rng = np.random.default_rng(seed)
    pool = [Candidate.create({"system": "seed prompt"})]
    for i in range(1, n_candidates):
        parent = pool[int(rng.integers(len(pool)))]
        pool.append(Candidate.create({"system": f"prompt variant {i}"}, (parent.id,), "reflection"))
    examples = [
        Example(id=f"val-{j:05d}", split="val", input=(ChatMessage("user", f"question {j}"),))
        for j in range(n_val)
    ] + [
        Example(id=f"train-{j:05d}", split="train", input=(ChatMessage("user", f"task {j}"),))
        for j in range(n_train)
    ]
    dataset = Dataset(examples)
    state = EngineState.initial(pool, seed=seed)
    matrix = state.scores.copy()
    matrix.add_columns((e, dataset[e].fingerprint) for e in dataset.val_ids)
    quality = rng.uniform(0.4, 0.85, n_candidates)[:, None]
    shape = (n_candidates, n_val)
    agg = np.clip(np.round((quality + rng.normal(0, 0.25, shape)) * 4) / 4, 0, 1)
    dims = {d: np.clip(agg + rng.normal(0, 0.1, shape), 0, 1) for d in _DIMS}
    for r in range(n_candidates):
        for c in range(n_val):
            matrix.set(r, c, float(agg[r, c]), {d: float(dims[d][r, c]) for d in _DIMS})
    return replace(state, scores=matrix, pending_val=()), dataset


@dataclass(frozen=True)
class CpuResult:
    candidates: int
    val: int
    steps: int
    median_ms: float
    p90_ms: float
    accepted_median_ms: float
    accepted_steps: int
    cold_ms: float
    to_json_ms: float
    state_mb: float


async def _measure(
    state: EngineState, dataset: Dataset, seams: Seams, steps: int, seed: int
) -> tuple[list[float], EngineState]:
    config = EngineConfig(seed=seed, max_merges=0)
    budgets: tuple[Budget, ...] = (Budget(),)
    times: list[float] = []
    for _ in range(steps):
        t0 = time.process_time()
        result = await step(state, dataset, seams, config, budgets)
        times.append(time.process_time() - t0)
        seams.store.add(result.new_evaluations)  # type: ignore[attr-defined]
        state, budgets = result.state, result.budgets
    return times, state


def run_cpu(
    n_candidates: int = 200,
    n_val: int = 1000,
    steps: int = 200,
    accepted_steps: int = 5,
    seed: int = 0,
) -> CpuResult:
    state, dataset = populated(n_candidates, n_val, 200, seed)

    def seams(runner: object, judge: object, word: str) -> Seams:
        return Seams(
            runner=runner,  # type: ignore[arg-type]
            evaluator=judge,  # type: ignore[arg-type]
            reflection=_InstantReflection(word),
            store=MemoryEvaluationStore(),
            clock=lambda: 0.0,
        )

    rejected, end_state = anyio.run(
        _measure, state, dataset, seams(_InstantRunner(), _InstantJudge(), "variant"), steps, seed
    )
    accepted, _ = anyio.run(
        _measure,
        state,
        dataset,
        seams(_EchoRunner(), _BetterJudge(), "better"),
        accepted_steps,
        seed,
    )
    t0 = time.process_time()
    blob = end_state.to_json()
    to_json = time.process_time() - t0
    # A step right after loading the state from JSON (the daemon resuming): nothing is cached, so
    # the frontier is computed from scratch.
    cold = [
        anyio.run(
            _measure,
            EngineState.from_json(blob),
            dataset,
            seams(_InstantRunner(), _InstantJudge(), f"cold{i}"),
            1,
            seed,
        )[0][0]
        for i in range(3)
    ]
    ms = sorted(t * 1000 for t in rejected)
    return CpuResult(
        candidates=n_candidates,
        val=n_val,
        steps=steps,
        median_ms=median(ms),
        p90_ms=ms[int(0.9 * (len(ms) - 1))],
        accepted_median_ms=median([t * 1000 for t in accepted]),
        accepted_steps=accepted_steps,
        cold_ms=median([t * 1000 for t in cold]),
        to_json_ms=to_json * 1000,
        state_mb=len(blob) / 1e6,
    )
