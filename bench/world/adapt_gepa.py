"""The world as a gepa 0.1.4 ``GEPAAdapter`` plus a run harness that records score vs calls.

gepa is imported lazily, and litellm's cost map is pinned to the local copy before that import, so
this module can be imported (and the world used) where gepa or the network is missing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.world.dataset import WorldExample
from bench.world.judge import Judgement
from bench.world.progress import Trajectory
from bench.world.world import COMPONENT, SEED_PROMPT, World

# The metric: grades one reply to one request (the world's oracle judge unless told otherwise).
Grader = Callable[[WorldExample, str], Judgement]


def _import_gepa() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import gepa

    return gepa


class WorldGepaAdapter:
    """``GEPAAdapter[WorldExample, dict, str]``.

    gepa's loop is synchronous and calls ``evaluate`` once per batch; by default the batch is run
    sequentially, as gepa's own adapters do. With ``threads > 1`` the adapter fans a batch out
    over a thread pool, the parallelism a gepa user can add without changing gepa.
    """

    propose_new_texts = None

    def __init__(self, world: World, pool: ThreadPoolExecutor | None = None,
                 judge: Grader | None = None) -> None:
        self.world = world
        self.pool = pool
        self.judge = judge or world.judge

    def _rollout(self, prompt: str, ex: WorldExample) -> tuple[str, Judgement]:
        reply = self.world.run_task(prompt, ex)
        return reply.text, self.judge(ex, reply.text)

    def evaluate(
        self, batch: list[WorldExample], candidate: dict[str, str], capture_traces: bool = False
    ) -> Any:
        from gepa.core.adapter import EvaluationBatch

        prompt = candidate[COMPONENT]
        outputs: list[str] = []
        scores: list[float] = []
        objectives: list[dict[str, float]] = []
        traces: list[dict[str, Any]] = []
        if self.pool is not None:
            done = list(self.pool.map(lambda ex: self._rollout(prompt, ex), batch))
        else:
            done = [self._rollout(prompt, ex) for ex in batch]
        for ex, (text, verdict) in zip(batch, done, strict=True):
            outputs.append(text)
            scores.append(verdict.aggregate)
            objectives.append(dict(verdict.scores))
            traces.append({"request": ex.request, "output": text, "feedback": verdict.feedback})
        return EvaluationBatch(
            outputs=outputs,
            scores=scores,
            trajectories=traces if capture_traces else None,
            objective_scores=objectives,
        )

    def make_reflective_dataset(
        self, candidate: dict[str, str], eval_batch: Any, components_to_update: list[str]
    ) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        records = [
            {
                "Inputs": {"request": t["request"]},
                "Generated Outputs": t["output"],
                "Feedback": t["feedback"],
            }
            for t in eval_batch.trajectories or []
        ]
        return dict.fromkeys(components_to_update, records)


class _Quiet:
    def log(self, message: str) -> None:
        pass


class _Recorder:
    """gepa callback: follows the best-by-val candidate, scores it on the held-out set (uncounted,
    no latency), and times each iteration."""

    def __init__(self, world: World, test: Sequence[WorldExample], traj: Trajectory) -> None:
        self.world, self.test, self.traj = world, test, traj
        self.best_val = float("-inf")
        self.started = 0.0

    def on_valset_evaluated(self, event: Mapping[str, Any]) -> None:
        self.traj.candidates += 1
        if event["average_score"] > self.best_val:
            self.best_val = float(event["average_score"])
            prompt = event["candidate"][COMPONENT]
            self.traj.best_prompt = prompt
            score = self.world.true_score(prompt, self.test)
            self.traj.points.append((self.world.counters.metric_calls, score))

    def on_iteration_start(self, event: Mapping[str, Any]) -> None:
        self.started = time.perf_counter()

    def on_iteration_end(self, event: Mapping[str, Any]) -> None:
        self.traj.iteration_wall_s.append(time.perf_counter() - self.started)
        self.traj.iteration_accepted.append(bool(event["proposal_accepted"]))
        self.traj.iterations = int(event["iteration"])


def run_gepa(
    world: World,
    train: Sequence[WorldExample],
    val: Sequence[WorldExample],
    test: Sequence[WorldExample],
    max_metric_calls: int | None,
    seed: int,
    max_iterations: int | None = None,
    minibatch_size: int = 3,
    seed_prompt: str = SEED_PROMPT,
    threads: int = 1,
    judge: Grader | None = None,
) -> Trajectory:
    """Run ``gepa.optimize`` on the world with its default strategy (Pareto selection, no merge,
    no evaluation cache: its cache keys val and train rows by position, so they would collide).
    ``judge`` is the metric (default: the oracle); it must count its calls on the world."""
    gepa = _import_gepa()
    traj = Trajectory()
    stoppers: list[Any] = []
    if max_iterations is not None:
        # gepa's state.i is the index of the iteration about to run, starting from 0.
        stoppers.append(lambda state: state.i + 1 >= max_iterations)
    start = world.counters.metric_calls
    pool = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        gepa.optimize(
            seed_candidate={COMPONENT: seed_prompt},
            trainset=list(train),
            valset=list(val),
            adapter=WorldGepaAdapter(world, pool, judge),
            reflection_lm=lambda prompt: world.reflect(str(prompt)).text,
            reflection_minibatch_size=minibatch_size,
            max_metric_calls=max_metric_calls,
            stop_callbacks=stoppers or None,
            logger=_Quiet(),
            callbacks=[_Recorder(world, test, traj)],
            seed=seed,
            display_progress_bar=False,
            track_best_outputs=False,
        )
    finally:
        if pool is not None:
            pool.shutdown()
    traj.total_calls = world.counters.metric_calls - start
    # Calls in the trajectory are relative to this run (the world's counter may be shared).
    traj.points = [(c - start, s) for c, s in traj.points]
    return traj
