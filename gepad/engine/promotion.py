"""Release gate: promote the best val candidate only if it beats the served one on `gate`.

The gate split is held out from evolution (never a minibatch, never on the frontier), so it
measures whether the val winner generalises rather than how hard it was selected for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio

from .budget import Budget, Ledger
from .config import EngineConfig
from .dataset import Dataset
from .frontier import best_by_val
from .model import CallFailure, Candidate, Evaluation, Usage
from .rollouts import Session, score
from .seams import Seams
from .state import EngineState


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    candidate_id: str | None
    served_id: str
    reasons: tuple[str, ...]
    candidate_gate_mean: float | None = None
    served_gate_mean: float | None = None
    # candidate minus served, per gated dimension.
    dimension_deltas: dict[str, float] = field(default_factory=dict)
    gate_examples: int = 0


@dataclass(frozen=True)
class PromotionResult:
    decision: PromotionDecision
    new_evaluations: tuple[Evaluation, ...]
    budgets: tuple[Budget, ...]
    usage: Usage
    metric_calls: int
    errors: tuple[CallFailure, ...] = ()


async def choose_promotion(
    state: EngineState,
    dataset: Dataset,
    seams: Seams,
    config: EngineConfig,
    budgets: Sequence[Budget],
    served: Candidate,
    *,
    margin: float = 0.0,
    gated_dimensions: Sequence[str] | None = None,
    dimension_tolerance: float = 0.0,
    limiter: anyio.CapacityLimiter | None = None,
) -> PromotionResult:
    """Promote iff gate mean(candidate) > gate mean(served) + margin and no gated dimension
    drops by more than `dimension_tolerance`. `gated_dimensions=None` gates every dimension
    either side reports. Gate rollouts go through the cache and the budgets like any other."""
    session = Session(seams, config, Ledger(budgets), dict(state.high_water), limiter=limiter)

    def done(decision: PromotionDecision) -> PromotionResult:
        return PromotionResult(
            decision,
            tuple(session.fresh.values()),
            session.ledger.budgets,
            session.ledger.usage,
            session.ledger.metric_calls,
            tuple(session.errors),
        )

    best = best_by_val(state)
    if best is None:
        return done(
            PromotionDecision(False, None, served.id, ("no candidate covers the whole val split",))
        )
    if best.content_hash == served.content_hash:
        return done(
            PromotionDecision(False, best.id, served.id, ("the best val candidate is served",))
        )
    gate = [dataset[e] for e in dataset.gate_ids]
    if not gate:
        return done(PromotionDecision(False, best.id, served.id, ("no gate examples",)))
    pairs = [(c, ex) for c in (best, served) for ex in gate]
    scored = await score(session, pairs, partial=False)
    if scored.unaffordable:
        return done(
            PromotionDecision(
                False, best.id, served.id, ("budget exhausted before gate evaluation",),
                gate_examples=len(gate),
            )
        )
    if scored.failed:
        return done(
            PromotionDecision(
                False, best.id, served.id,
                (f"{len(scored.failed)} gate rollouts failed; not promoting on partial data",),
                gate_examples=len(gate),
            )
        )
    n = len(gate)
    evals = [e for e in scored.results if e is not None]
    cand_evals, served_evals = evals[:n], evals[n:]
    cand_mean = sum(e.aggregate for e in cand_evals) / n
    served_mean = sum(e.aggregate for e in served_evals) / n
    dims = (
        sorted({d for e in evals for d in e.scores})
        if gated_dimensions is None
        else list(gated_dimensions)
    )
    deltas: dict[str, float] = {}
    reasons: list[str] = []
    for d in dims:
        c_vals = [e.scores[d] for e in cand_evals if d in e.scores]
        s_vals = [e.scores[d] for e in served_evals if d in e.scores]
        if not c_vals or not s_vals:
            continue
        delta = sum(c_vals) / len(c_vals) - sum(s_vals) / len(s_vals)
        deltas[d] = delta
        if delta < -dimension_tolerance:
            reasons.append(f"dimension {d} regresses by {-delta:.4f}")
    regressed = bool(reasons)
    beats = cand_mean > served_mean + margin
    if not beats:
        reasons.append(
            f"gate mean {cand_mean:.4f} does not beat served {served_mean:.4f} + margin {margin}"
        )
    promote = beats and not regressed
    if promote:
        reasons.append(
            f"gate mean {cand_mean:.4f} beats served {served_mean:.4f} by more than {margin}"
        )
    return done(
        PromotionDecision(
            promote, best.id, served.id, tuple(reasons), cand_mean, served_mean, deltas, n
        )
    )
