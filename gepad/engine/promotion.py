"""Release gate: promote the best val candidate only if it beats the served one on `gate`.

The gate split is held out from evolution (never a minibatch, never on the frontier), so it
measures whether the val winner generalises rather than how hard it was selected for. Per user it
is tiny (a handful of examples), and some evaluators are noisy (an LLM judge, a token-overlap
score against a correction), so the decision is a paired comparison with confidence bounds, not a
comparison of two means:

- Evidence: for each gate example, candidate minus served, on the aggregate and on each gated
  dimension. Pairing takes out what the examples themselves contribute (a hard request is hard
  for both prompts); what is left is the spread of the differences, which sets the bounds.
- Spread from val, never the mean from val. The two prompts are usually both scored on val too,
  and their paired differences there measure how much a difference varies from example to
  example, per evaluator: a judge that flips between 0 and 1 shows a wide spread, a token-overlap
  score that moves by 0.007 a narrow one. So the spread pools the gate's differences with val's,
  each centred on its own mean (`paired.mean_bounds`): that is each dimension's tolerance for
  noise, measured rather than configured. Val's *mean* is left out: the candidate was chosen as
  the best of the pool on val, so its val lead includes the luck of that choice (on the gate
  benchmark, letting val's differences count as evidence doubles to triples the false
  promotions), while the spread around its own mean does not shift with that choice. Counting
  val's lead less a winner's-curse discount was tried and dropped: the discount that is safe
  when the candidates are alike (the worst case) is so large that the benchmark's clearly better
  candidates were refused more often with it than with val's mean left out. With no val
  overlap, a one-example prior (`paired.PRIOR_SD`) keeps three agreeing gate examples from
  claiming certainty.
- Promote iff the gate mean beats the served one by more than `margin` (as before), that gain is
  not noise (its lower bound at `confidence` clears zero, or the margin when that is negative),
  and no gated dimension really regresses: a dimension blocks only when its gate mean drops by
  more than its tolerance (`dimension_tolerance(s)`, 0 by default) *and* its upper bound is below
  zero, i.e. noise alone would rarely produce the drop. A drop within noise is reported, not
  blocking. Only the gate locates a drop (selection on val flatters the candidate there too).
  The dimension checks share `1 - confidence` between them (Bonferroni), so the chance that
  noise alone blocks a candidate stays at most `1 - confidence` however many dimensions are
  gated, as does the chance that noise alone promotes one that is no better.

So both errors are held to the same level: noise alone promotes a candidate that is no better,
or blocks one that regresses nothing, at most `1 - confidence` of the time. What that costs is
power: three to eight examples cannot show a gain of a tenth through a per-example spread of a
third, so such a candidate waits. A refusal is not final: the candidate stays in the pool and
meets a larger gate in a later round. `bench/gate.py` measures false promotions and false
rejections against the rule this replaces (`bench/RESULTS.md`, "Release gate on small data").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio
import numpy as np

from .budget import Budget, Ledger
from .config import EngineConfig
from .dataset import Dataset
from .frontier import best_by_val
from .model import CallFailure, Candidate, Evaluation, Usage
from .paired import MeanBounds, mean_bounds
from .rollouts import Session, score
from .seams import Seams
from .state import EngineState

DEFAULT_CONFIDENCE = 0.9


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
    # The gain (candidate minus served gate mean) is at least this, at `confidence`.
    gain_lower_bound: float | None = None
    # Per gated dimension, the change is at most this, at the dimension checks' confidence.
    dimension_upper_bounds: dict[str, float] = field(default_factory=dict)
    confidence: float | None = None
    # Val examples both prompts were scored on, whose differences lent the bounds their spread.
    val_examples: int = 0


@dataclass(frozen=True)
class PromotionResult:
    decision: PromotionDecision
    new_evaluations: tuple[Evaluation, ...]
    budgets: tuple[Budget, ...]
    usage: Usage
    metric_calls: int
    errors: tuple[CallFailure, ...] = ()


@dataclass(frozen=True, slots=True)
class Paired:
    """Candidate minus served, example by example: on the gate (the evidence) and on val (which
    lends only its spread, see the module docstring)."""

    gate: tuple[float, ...]
    val: tuple[float, ...] = ()


@dataclass(frozen=True)
class GateVerdict:
    promote: bool
    reasons: tuple[str, ...]
    gain: MeanBounds
    dimensions: dict[str, MeanBounds]


def decide_gate(
    aggregate: Paired,
    dimensions: Mapping[str, Paired],
    means: tuple[float, float],
    *,
    margin: float = 0.0,
    tolerances: Mapping[str, float] | None = None,
    tolerance: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> GateVerdict:
    """The gate's decision from paired differences (see the module docstring). `means` are the
    candidate's and the served prompt's gate means; `tolerances` overrides `tolerance` per
    dimension. The reasons are plain sentences for the user."""
    gain = mean_bounds(aggregate.gate, confidence, spread_from=aggregate.val)
    reasons = [_gain_reason(gain, len(aggregate.val), margin, means)]
    beats = means[0] - means[1] > margin and gain.lower > min(margin, 0.0)
    checked = {d: p for d, p in dimensions.items() if p.gate}
    each = 1.0 - (1.0 - confidence) / max(len(checked), 1)
    bounds: dict[str, MeanBounds] = {}
    regressed = False
    for d, p in checked.items():
        # Only the gate locates a regression: selection on val flatters the candidate there.
        b = mean_bounds(p.gate, each, spread_from=p.val)
        bounds[d] = b
        allowed = (tolerances or {}).get(d, tolerance)
        real = -b.mean > allowed and b.upper < 0
        regressed = regressed or real
        if b.mean < 0:
            reasons.append(_drop_reason(d, b, allowed, real))
    return GateVerdict(beats and not regressed, tuple(reasons), gain, bounds)


def _examples(n: int, split: str = "gate") -> str:
    return f"{n} {split} example{'' if n == 1 else 's'}"


def _gain_reason(gain: MeanBounds, val: int, margin: float, means: tuple[float, float]) -> str:
    head = f"gate mean {means[0]:.4f}"
    served = f"served {means[1]:.4f}"
    if means[0] - means[1] <= margin:
        return f"{head} does not beat {served} + margin {margin}"
    seen = _examples(gain.n)
    if val >= 2:
        seen += f" (noise measured with {_examples(val, 'val')} too)"
    sure = f"{gain.confidence:.0%} confidence"
    if gain.lower > min(margin, 0.0):
        return (
            f"{head} beats {served} by more than {margin}, beyond noise: on {seen} the gain is "
            f"at least {gain.lower:+.4f} ({sure})"
        )
    return (
        f"{head} beats {served} by {means[0] - means[1]:.4f}, but that may be noise: on {seen} "
        f"the gain could be as low as {gain.lower:+.4f} ({sure})"
    )


def _drop_reason(dimension: str, b: MeanBounds, allowed: float, real: bool) -> str:
    drop = -b.mean
    if real:
        return (
            f"dimension {dimension} regresses by {drop:.4f} (by at least {-b.upper:.4f}, "
            f"{b.confidence:.1%} confidence)"
        )
    if drop <= allowed:
        return f"dimension {dimension} drops by {drop:.4f}, within its tolerance {allowed}"
    return (
        f"dimension {dimension} drops by {drop:.4f}, within its noise on {_examples(b.n)} "
        f"(it may have risen by up to {b.upper:.4f})"
    )


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
    dimension_tolerances: Mapping[str, float] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    deciding_dimensions: Sequence[str] | None = None,
) -> PromotionResult:
    """Promote iff gate mean(candidate) > gate mean(served) + margin, that gain is beyond noise,
    and no gated dimension drops by more than its tolerance beyond noise (`decide_gate`).
    `gated_dimensions=None` gates every dimension both sides report. Gate rollouts go through
    the cache and the budgets like any other.

    `deciding_dimensions`: only these evaluators' scores decide (the calibrated, gating ones):
    the gate's aggregate is the mean of these dimensions, and only they are checked for
    regressions (unless `gated_dimensions` says otherwise). None: every evaluator decides."""
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
    mine, theirs = evals[:n], evals[n:]
    deciding = None if deciding_dimensions is None else tuple(deciding_dimensions)
    if deciding is not None:
        both = [(a, b) for a, b in zip(mine, theirs, strict=True)
                if _deciding_mean(a, deciding) is not None
                and _deciding_mean(b, deciding) is not None]
        if not both:
            why = ("no evaluator may decide promotion (every one is off)" if not deciding else
                   f"no gate example is graded by a deciding evaluator ({', '.join(deciding)})")
            return done(PromotionDecision(False, best.id, served.id, (why,), gate_examples=n))
        mine, theirs = [a for a, _ in both], [b for _, b in both]
        n = len(both)
    seen = sorted({d for e in evals for d in e.scores})
    dims = (
        (seen if deciding is None else [d for d in seen if d in deciding])
        if gated_dimensions is None
        else list(gated_dimensions)
    )
    val = _ValPairs(state, best, served)
    per_dim = {d: Paired(_gate_diffs(mine, theirs, d), val.diffs(d)) for d in dims}
    mine_agg = [_agg(e, deciding) for e in mine]
    theirs_agg = [_agg(e, deciding) for e in theirs]
    cand_mean = sum(mine_agg) / n
    served_mean = sum(theirs_agg) / n
    verdict = decide_gate(
        Paired(tuple(a - b for a, b in zip(mine_agg, theirs_agg, strict=True)),
               val.diffs(None, deciding)),
        {d: p for d, p in per_dim.items() if p.gate},
        (cand_mean, served_mean),
        margin=margin,
        tolerances=dimension_tolerances,
        tolerance=dimension_tolerance,
        confidence=confidence,
    )
    return done(
        PromotionDecision(
            verdict.promote, best.id, served.id, verdict.reasons, cand_mean, served_mean,
            {d: _mean_delta(mine, theirs, d) for d in verdict.dimensions}, n,
            gain_lower_bound=verdict.gain.lower,
            dimension_upper_bounds={d: b.upper for d, b in verdict.dimensions.items()},
            confidence=confidence,
            val_examples=len(val.diffs(None, deciding)),
        )
    )


def _deciding_mean(evaluation: Evaluation, deciding: Sequence[str]) -> float | None:
    """The mean of the deciding evaluators' scores; None when none of them graded it."""
    values = [evaluation.scores[d] for d in deciding if d in evaluation.scores]
    return sum(values) / len(values) if values else None


def _agg(evaluation: Evaluation, deciding: Sequence[str] | None) -> float:
    if deciding is None:
        return evaluation.aggregate
    value = _deciding_mean(evaluation, deciding)
    assert value is not None  # examples no deciding evaluator graded were left out
    return value


def _gate_diffs(
    mine: Sequence[Evaluation], theirs: Sequence[Evaluation], dimension: str | None
) -> tuple[float, ...]:
    """Candidate minus served per gate example (on examples where both report `dimension`)."""
    if dimension is None:
        return tuple(a.aggregate - b.aggregate for a, b in zip(mine, theirs, strict=True))
    return tuple(
        a.scores[dimension] - b.scores[dimension]
        for a, b in zip(mine, theirs, strict=True)
        if dimension in a.scores and dimension in b.scores
    )


def _mean_delta(
    mine: Sequence[Evaluation], theirs: Sequence[Evaluation], dimension: str
) -> float:
    """Mean of one side minus mean of the other, each over the examples it reports `dimension`
    on (what `dimension_deltas` has always reported)."""
    a = [e.scores[dimension] for e in mine if dimension in e.scores]
    b = [e.scores[dimension] for e in theirs if dimension in e.scores]
    return sum(a) / len(a) - sum(b) / len(b)


class _ValPairs:
    """The candidate's and the served prompt's val scores, where both have them."""

    def __init__(self, state: EngineState, best: Candidate, served: Candidate) -> None:
        self._matrix = state.scores
        self._rows: tuple[int, int] | None = None
        served_row = _row_of(state, served)
        if served_row is not None:
            self._rows = (state.index(best.id), served_row)

    def diffs(self, dimension: str | None,
              deciding: Sequence[str] | None = None) -> tuple[float, ...]:
        if self._rows is None:
            return ()
        m = self._matrix
        if dimension is None and deciding is not None:
            known = [m.dimension(d) for d in deciding if d in m.dimensions]
            if not known:
                return ()
            stacked = np.stack(known)
            graded = ~np.isnan(stacked)
            counts = graded.sum(axis=0)
            sums = np.where(graded, stacked, 0.0).sum(axis=0)
            values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        elif dimension is None:
            values = m.aggregate
        elif dimension in m.dimensions:
            values = m.dimension(dimension)
        else:
            return ()
        a, b = values[self._rows[0]], values[self._rows[1]]
        both = ~np.isnan(a) & ~np.isnan(b)
        return tuple(float(x) for x in (a - b)[both])


def _row_of(state: EngineState, candidate: Candidate) -> int | None:
    """The served prompt's row: by id, else by content (a served edit re-added under a new id)."""
    if candidate.id in state:
        return state.index(candidate.id)
    for i, c in enumerate(state.candidates):
        if c.content_hash == candidate.content_hash:
            return i
    return None
