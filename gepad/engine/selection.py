"""Which frontier member a reflection step mutates next.

A member is drawn with probability proportional to the number of val instances it wins: the
candidates that are best on many instances get most of the budget, while a specialist that wins
only a few keeps a chance (GEPA's per-instance Pareto sampling).
"""

from __future__ import annotations

import numpy as np

from .pareto import Frontier

__all__ = ["choose_parent"]


def choose_parent(front: Frontier, rng: np.random.Generator) -> int:
    """The row index of the chosen member; ``front`` must not be empty."""
    weights = front.weights.astype(np.float64)
    return int(front.members[int(rng.choice(len(front), p=weights / weights.sum()))])
