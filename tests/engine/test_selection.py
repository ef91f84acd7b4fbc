from __future__ import annotations

from collections import Counter

import numpy as np

from gepad.engine.pareto import compute_frontier
from gepad.engine.selection import choose_parent


def test_parents_are_drawn_in_proportion_to_the_instances_they_win() -> None:
    # Row 0 wins 1 instance, row 2 wins 3, row 1 wins nothing (dominated by row 2).
    obj = np.array([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 0.5, 0.5, 0.5],
        [0.0, 1.0, 1.0, 1.0],
    ])
    front = compute_frontier(obj)
    rng = np.random.default_rng(7)
    draws = Counter(choose_parent(front, rng) for _ in range(4000))
    assert set(draws) == {0, 2}
    assert abs(draws[2] / 4000 - 0.75) < 0.03, draws

