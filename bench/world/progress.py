"""Score reached vs metric calls, recorded the same way for both optimizers."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.world.world import SEED_PROMPT


@dataclass
class Trajectory:
    """One point each time the best-by-val candidate changes: (calls so far, its held-out score).

    Calls are counted by the world (one judged rollout = one metric call), never by the optimizer
    under test, so both sides are measured with the same ruler.
    """

    points: list[tuple[int, float]] = field(default_factory=list)
    total_calls: int = 0
    iterations: int = 0
    candidates: int = 0
    best_prompt: str = SEED_PROMPT
    # Wall-clock seconds of each iteration.
    iteration_wall_s: list[float] = field(default_factory=list)
    # Whether each iteration added a candidate (and so paid for a val evaluation).
    iteration_accepted: list[bool] = field(default_factory=list)
    # Val metric calls spent on each accepted child in the step that accepted it (gepad only).
    child_val_calls: list[int] = field(default_factory=list)
    # Val mean of the best-by-val candidate at the end (gepad only; its own, optimistic, view).
    best_val: float = 0.0

    @property
    def final(self) -> float:
        return self.points[-1][1] if self.points else 0.0

    def calls_to_reach(self, target: float, eps: float = 1e-9) -> int | None:
        """Metric calls spent when the best-by-val candidate first scored ``target`` held-out."""
        for calls, score in self.points:
            if score >= target - eps:
                return calls
        return None

    def score_at(self, calls: int) -> float:
        """Held-out score of the best-by-val candidate after ``calls`` metric calls."""
        best = 0.0
        for c, s in self.points:
            if c > calls:
                break
            best = s
        return best
