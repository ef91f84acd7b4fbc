"""A round's shape from its budget: the minibatch shrinks when the budget could not pay for
enough iterations; merges follow the iterations."""

from __future__ import annotations

import pytest

from gepad.rounds.sizing import DEFAULT_MAX_ITERATIONS, iterations_for, merges_for, minibatch_for


@pytest.mark.parametrize(("calls", "rollouts", "size"), [
    (None, 1, 3),   # no call cap: GEPA's usual 3
    (300, 1, 3),    # never above 3 (larger lost in the daemon-loop benchmark)
    (44, 1, 3),     # a 60-call nightly round pays for 10 iterations of 3
    (25, 1, 2),     # too small a budget for 10 iterations of 3: down to 2, not below
    (5, 1, 2),
    (50, 2, 2),     # two rollouts per example cost twice the calls
])
def test_the_minibatch(calls: int | None, rollouts: int, size: int) -> None:
    assert minibatch_for(calls, rollouts) == size


def test_the_budget_sets_the_iterations_and_the_iterations_the_merges() -> None:
    assert iterations_for(None, 3) == DEFAULT_MAX_ITERATIONS
    assert iterations_for(84, 4) == 22  # 21 cheapest iterations, and the one that overdraws
    assert iterations_for(0, 4) == 1
    assert [merges_for(n) for n in (1, 4, 10, 22, 51, 500)] == [1, 1, 2, 4, 5, 5]
