"""When a candidate stops being worth scoring on the rest of val.

Scoring every accepted child on all of val is most of a round's cost, and most children are
never promoted. So a candidate owed val scores is scored a wave at a time, in an order drawn at
random, and scoring stops as soon as it can neither enter the frontier nor beat the best. With
`TOL` the frontier's tolerance (`pareto.TOL`) and "scored" meaning the val examples the candidate
has a score on so far, precisely:

1. It *cannot beat the best* (end with a val mean above that of the best fully scored candidate,
   the one `best_by_val` and so the release gate would take) when even the top score 1 on every
   example it lacks leaves its mean below the best's minus `TOL` (certain), or when the upper
   confidence bound (`EngineConfig.progressive_confidence`) on its val mean minus the best's,
   over all of val, is below `-TOL`. That bound (`paired.mean_bounds`) pairs the two on each
   example scored in this race, a random sample without replacement of the examples it was owed
   (hence the random order, and the finite-population correction). Examples it had scores on
   before the race count exactly, not as a sample: they need not be a random part of val
   (yesterday's examples, when today's brought a new kind of request).
2. It *cannot enter the frontier by being scored further* once (1) holds. The frontier of a
   candidate that is not fully scored is decided on its scored examples (a missing score counts
   neither for nor against anyone): it is on it when it wins one (a score within `TOL` of the best
   any candidate has there, so a tie within `TOL` wins) and no candidate dominates it there.
   - If it is on it, it has entered: more of its own scores can only add wins and make it harder
     to dominate, so they refine its sampling weight and cannot take it off.
   - If it is not, it could still enter only by winning an example it has not been scored on
     while nobody dominates it, which stays possible up to its last example. That chance is what
     this rule gives up: a candidate behind on the examples scored so far that cannot beat the
     best is not worth the rest of val on the odds that it wins one of them.

So scoring stops when (1) holds, or when the candidate is fully scored. A candidate given up on
keeps the scores it has (on the frontier as a parent weighted by the examples it won, or off it)
and is owed nothing more (`EngineState.partial_val`) until the val split changes, when it is raced
again if it is then on the frontier. Only candidates that can still beat the best are completed,
so every candidate that can be promoted is fully scored before the gate looks for the best one.
"""

from __future__ import annotations

import numpy as np

from .config import FrontierKind
from .frontier import best_full_row, frontier_of
from .paired import mean_bounds
from .pareto import TOL, BoolArray
from .scores import ScoreMatrix

# The top of the 0..1 score scale: what an unscored example may still bring.
TOP_SCORE = 1.0


class Race:
    """Whether one row of the val matrix, scored a few columns at a time, can still beat the
    best fully scored row. Only that row's cells may change while it is raced."""

    def __init__(self, matrix: ScoreMatrix, row: int, confidence: float) -> None:
        self.row = row
        self._confidence = confidence
        agg = matrix.aggregate
        others: BoolArray = np.ones(matrix.n_rows, dtype=bool)
        others[row] = False
        self.best_row = best_full_row(agg, others)
        self.best_mean = None if self.best_row is None else float(agg[self.best_row].mean())
        # Scores it had before the race: exact, and not a sample of anything.
        self._before: BoolArray = ~np.isnan(agg[row])

    def optimistic_mean(self, matrix: ScoreMatrix) -> float:
        """This row's val mean if it scored the top score on every example it lacks."""
        values = matrix.aggregate[self.row]
        if values.size == 0:
            return TOP_SCORE
        return float(np.where(np.isnan(values), TOP_SCORE, values).mean())

    def lead_bound(self, matrix: ScoreMatrix) -> float | None:
        """Upper confidence bound on this row's val mean minus the best's, over all of val; None
        before the race has scored anything (there is no sample yet)."""
        if self.best_row is None:
            return None
        agg = matrix.aggregate
        diffs = agg[self.row] - agg[self.best_row]
        sampled = ~self._before & ~np.isnan(diffs)
        if not sampled.any():
            return None
        owed = int((~self._before).sum())
        rest = mean_bounds(diffs[sampled], self._confidence, population=owed)
        exact = float(diffs[self._before].sum())
        return float((exact + owed * rest.upper) / diffs.size)

    def can_beat_best(self, matrix: ScoreMatrix) -> bool:
        if self.best_mean is None:
            return True
        if self.optimistic_mean(matrix) < self.best_mean - TOL:
            return False
        bound = self.lead_bound(matrix)
        return bound is None or bound >= -TOL

    def why_out(self, matrix: ScoreMatrix, kind: FrontierKind) -> str:
        """Why this row was given up on, and where that leaves it, in words."""
        scored = int((~np.isnan(matrix.aggregate[self.row])).sum())
        reach = self.optimistic_mean(matrix)
        assert self.best_mean is not None  # a row with no best to beat is never given up on
        if reach < self.best_mean - TOL:
            beat = f": its val mean can reach at most {reach:.4f} < best {self.best_mean:.4f}"
        else:
            beat = (
                f": its val mean ends at most {self.lead_bound(matrix):+.4f} from the best's "
                f"({self._confidence:.0%} bound)"
            )
        front = frontier_of(matrix, kind)
        where = "stays on the frontier" if self.row in front.members else "is off the frontier"
        return f"after {scored} of {matrix.aggregate.shape[1]} val examples{beat}; it {where}"

