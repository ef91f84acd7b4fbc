"""Scoring candidates on examples: cache first, budget reserved, rollouts in parallel.

One metric call is one rollout: the task runner's output judged by the evaluator. With
`rollouts_per_example = k` an evaluation averages k rollouts and costs k metric calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from .budget import Ledger, Spend
from .config import EngineConfig
from .model import CallFailure, Candidate, EvalKey, Evaluation, Example, Usage
from .seams import EvaluationError, Seams

T = TypeVar("T")


@dataclass
class Session:
    """Mutable bookkeeping of one engine call (a step, a catch-up, a promotion check)."""

    seams: Seams
    config: EngineConfig
    ledger: Ledger
    high_water: dict[str, tuple[int, float]]
    # Evaluations made during this call, visible to later phases before the daemon commits them.
    fresh: dict[EvalKey, Evaluation] = field(default_factory=dict)
    errors: list[CallFailure] = field(default_factory=list)
    limiter: anyio.CapacityLimiter | None = None

    def key(self, candidate: Candidate, example: Example) -> EvalKey:
        return EvalKey(
            candidate.content_hash, example.id, self.seams.scorer_version, example.fingerprint
        )

    def lookup(self, key: EvalKey) -> Evaluation | None:
        hit = self.fresh.get(key)
        return hit if hit is not None else self.seams.store.get(key)

    def allowance(self, kind: str) -> Spend:
        cfg = self.config
        if kind == "rollout":
            tokens, cost = cfg.rollout_token_allowance, cfg.rollout_cost_allowance_usd
        else:
            tokens, cost = cfg.reflection_token_allowance, cfg.reflection_cost_allowance_usd
        seen_tokens, seen_cost = self.high_water.get(kind, (0, 0.0))
        return Spend(0, max(tokens, seen_tokens), max(cost, seen_cost))

    def observe(self, kind: str, usage: Usage) -> None:
        tokens, cost = self.high_water.get(kind, (0, 0.0))
        if usage.tokens > tokens or usage.cost_usd > cost:
            self.high_water[kind] = (max(tokens, usage.tokens), max(cost, usage.cost_usd))

    def rollout_unit(self) -> Spend:
        k = self.config.rollouts_per_example
        return (Spend(1) + self.allowance("rollout")).times(k)


@dataclass(frozen=True, slots=True)
class Scored:
    """Results of `score`: one entry per requested pair (None = not scored)."""

    results: tuple[Evaluation | None, ...]
    fresh: tuple[Evaluation, ...]
    unaffordable: int
    failed: tuple[int, ...]


async def score(
    session: Session,
    pairs: Sequence[tuple[Candidate, Example]],
    *,
    partial: bool,
) -> Scored:
    """Scores each (candidate, example) pair, reading the cache first.

    Uncached pairs are rolled out only if the budgets can hold them: all of them or none when
    `partial` is false, otherwise the longest affordable prefix in the given order.
    """
    results: list[Evaluation | None] = [None] * len(pairs)
    todo: list[int] = []
    for i, (cand, ex) in enumerate(pairs):
        hit = session.lookup(session.key(cand, ex))
        if hit is not None:
            results[i] = hit
        else:
            todo.append(i)
    if not todo:
        return Scored(tuple(results), (), 0, ())
    unit = session.rollout_unit()
    n = session.ledger.affordable(unit, len(todo)) if partial else len(todo)
    reservation = session.ledger.reserve(unit.times(n)) if n else None
    if reservation is None:
        return Scored(tuple(results), (), len(todo), ())
    run = todo[:n]
    outcomes = await gather(
        [_job(session, *pairs[i]) for i in run], session.config.max_concurrency, session.limiter
    )
    fresh: list[Evaluation] = []
    failed: list[int] = []
    k = session.config.rollouts_per_example
    # Settle in request order so float sums (and thus later budget decisions) are reproducible.
    for i, (evaluation, usage, per_rollout, error) in zip(run, outcomes, strict=True):
        reservation.charge(k, usage)
        for u in per_rollout:
            session.observe("rollout", u)
        if evaluation is None:
            failed.append(i)
            cand, ex = pairs[i]
            session.errors.append(CallFailure("rollout", f"{cand.id} on {ex.id}", error))
            continue
        results[i] = evaluation
        session.fresh[evaluation.key] = evaluation
        fresh.append(evaluation)
    reservation.close()
    return Scored(tuple(results), tuple(fresh), len(todo) - n, tuple(failed))


async def gather(
    jobs: Sequence[Callable[[], Awaitable[T]]],
    max_concurrency: int,
    limiter: anyio.CapacityLimiter | None = None,
) -> list[T]:
    """Runs jobs concurrently (at most `max_concurrency` at once), results in job order.

    A fixed pool of workers pulls from a shared iterator: cheaper than one task per job when
    there are a thousand val examples, with the same concurrency bound as a CapacityLimiter.
    `limiter` (optional) is a daemon-wide limit shared with other rounds.
    """
    out: list[T | None] = [None] * len(jobs)
    if not jobs:
        return []

    async def run_one(i: int) -> None:
        if limiter is None:
            out[i] = await jobs[i]()
        else:
            async with limiter:
                out[i] = await jobs[i]()

    if len(jobs) == 1:
        await run_one(0)
    else:
        indices = iter(range(len(jobs)))

        async def worker() -> None:
            for i in indices:
                await run_one(i)

        async with anyio.create_task_group() as tg:
            for _ in range(min(max_concurrency, len(jobs))):
                tg.start_soon(worker)
    return out  # type: ignore[return-value]


def _job(
    session: Session, candidate: Candidate, example: Example
) -> Callable[[], Awaitable[tuple[Evaluation | None, Usage, list[Usage], str]]]:
    return lambda: _rollouts(session, candidate, example)


async def _rollouts(
    session: Session, candidate: Candidate, example: Example
) -> tuple[Evaluation | None, Usage, list[Usage], str]:
    """k rollouts averaged. Never raises for seam failures: they are reported, not guessed."""
    seams = session.seams
    total = Usage()
    per_rollout: list[Usage] = []
    outputs: list[str] = []
    traces: list[Mapping[str, object]] = []
    verdict_scores: list[Mapping[str, float]] = []
    aggregates: list[float] = []
    feedback: list[str] = []
    for _ in range(session.config.rollouts_per_example):
        used = Usage()
        try:
            out = await seams.runner.run(candidate, example)
            used = used + out.usage
            verdict = await seams.evaluator.evaluate(example, out.output)
            used = used + verdict.usage
        except EvaluationError as exc:
            used = used + exc.usage
            total = total + used
            per_rollout.append(used)
            return None, total, per_rollout, f"evaluation error: {exc}"
        except Exception as exc:
            extra = getattr(exc, "usage", None)
            if isinstance(extra, Usage):
                used = used + extra
            total = total + used
            per_rollout.append(used)
            return None, total, per_rollout, f"{type(exc).__name__}: {exc}"
        total = total + used
        per_rollout.append(used)
        bad = _check_verdict(verdict.scores, verdict.aggregate)
        if bad:
            return None, total, per_rollout, f"invalid verdict: {bad}"
        outputs.append(out.output)
        traces.append(out.trace)
        verdict_scores.append(verdict.scores)
        aggregates.append(verdict.aggregate)
        feedback.append(verdict.feedback)
    k = len(outputs)
    dims: dict[str, list[float]] = {}
    for s in verdict_scores:
        for name, value in s.items():
            dims.setdefault(name, []).append(float(value))
    key = session.key(candidate, example)
    evaluation = Evaluation(
        key=key,
        split=example.split,
        output=outputs[0],
        scores={name: sum(v) / len(v) for name, v in sorted(dims.items())},
        aggregate=sum(aggregates) / k,
        feedback=feedback[0]
        if k == 1
        else "\n".join(f"[rollout {i + 1}] {f}" for i, f in enumerate(feedback) if f),
        trace=traces[0] if k == 1 else {"outputs": outputs, "traces": traces},
        tokens=total.tokens,
        cost_usd=total.cost_usd,
        llm_calls=total.calls,
        rollouts=k,
        candidate_id=candidate.id,
        created_at=seams.clock(),
    )
    return evaluation, total, per_rollout, ""


def _check_verdict(scores: Mapping[str, float], aggregate: float) -> str | None:
    if not 0.0 <= aggregate <= 1.0:
        return f"aggregate {aggregate!r} outside 0..1"
    for name, value in scores.items():
        if not 0.0 <= value <= 1.0:
            return f"score {name}={value!r} outside 0..1"
    return None
