"""A round's shape from its budget and data: the minibatch grows with the train split and
shrinks when the budget could not pay for enough iterations; merges follow the iterations."""

from __future__ import annotations

import pytest

from gepad.rounds.sizing import DEFAULT_MAX_ITERATIONS, iterations_for, merges_for, minibatch_for


@pytest.mark.parametrize(("train", "calls", "rollouts", "size"), [
    (0, None, 1, 3),     # nothing known: GEPA's usual 3
    (21, None, 1, 3),    # one-shot, 36 interactions
    (22, None, 1, 4),
    (35, None, 1, 5),
    (500, None, 1, 5),   # never above 5
    (35, 44, 1, 4),      # a 60-call nightly round: 10 iterations of 4 fit, of 5 do not
    (35, 84, 1, 5),
    (35, 25, 1, 2),      # too small a budget for 10 iterations of 3: down to 2, not below
    (35, 5, 1, 2),
    (35, 84, 2, 4),      # two rollouts per example cost twice the calls
])
def test_the_minibatch(train: int, calls: int | None, rollouts: int, size: int) -> None:
    assert minibatch_for(train, calls, rollouts) == size


def test_the_budget_sets_the_iterations_and_the_iterations_the_merges() -> None:
    assert iterations_for(None, 3) == DEFAULT_MAX_ITERATIONS
    assert iterations_for(84, 4) == 22  # 21 cheapest iterations, and the one that overdraws
    assert iterations_for(0, 4) == 1
    assert [merges_for(n) for n in (1, 10, 22, 51, 500)] == [2, 2, 4, 10, 10]
