"""Engine settings. One value object; the daemon maps a Program's settings onto it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FrontierKind = Literal["instance", "dimension"]
ValScoring = Literal["progressive", "full"]


@dataclass(frozen=True, slots=True)
class EngineConfig:
    minibatch_size: int = 3
    rollouts_per_example: int = 1
    # Merge attempts per round (see `new_round`); a cap, every attempt counts.
    max_merges: int = 5
    max_concurrency: int = 8
    # "instance": objectives are val examples; "dimension": (val example, score dimension) pairs.
    frontier: FrontierKind = "instance"
    # "progressive": a candidate owed val scores is scored a wave of `max_concurrency` examples at
    # a time, in a random order, until it can neither enter the frontier nor beat the best (see
    # `progressive`); "full": on every val example at once, whatever it scores.
    val_scoring: ValScoring = "progressive"
    # How sure progressive scoring must be that a candidate's val mean ends below the best's
    # before it gives up on it (one-sided, from the examples scored so far).
    progressive_confidence: float = 0.95
    max_component_chars: int = 8000
    seed: int = 0
    # Per-call allowances reserved before a call whose cost is unknown until it returns. The
    # engine reserves max(allowance, the largest call of that kind seen so far).
    rollout_token_allowance: int = 2_000
    rollout_cost_allowance_usd: float = 0.002
    reflection_token_allowance: int = 8_000
    reflection_cost_allowance_usd: float = 0.02
    # Reflection skips a parent that already scores this on every minibatch example.
    perfect_score: float = 1.0
    # How many characters of each quoted field go into the reflection prompt.
    max_quote_chars: int = 2_000

    def __post_init__(self) -> None:
        if self.minibatch_size < 1:
            raise ValueError("minibatch_size must be >= 1")
        if self.rollouts_per_example < 1:
            raise ValueError("rollouts_per_example must be >= 1")
        if self.max_merges < 0:
            raise ValueError("max_merges must be >= 0")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if self.frontier not in ("instance", "dimension"):
            raise ValueError("frontier must be 'instance' or 'dimension'")
        if self.val_scoring not in ("progressive", "full"):
            raise ValueError("val_scoring must be 'progressive' or 'full'")
        if not 0.5 <= self.progressive_confidence < 1.0:
            raise ValueError("progressive_confidence must be in [0.5, 1)")
        if self.max_component_chars < 1:
            raise ValueError("max_component_chars must be >= 1")
