"""How big a round's steps are when the program leaves it to gepad: derived from the round's
budget and the user's data, not fixed numbers.

* Minibatch: reflection reads the minibatch and the accept test compares parent and child on it,
  so more examples give the reflection LM more to generalise from and a less noisy test. It
  grows with the train split (one example per 7 train examples, between 3 and 5) and shrinks
  when the budget could not pay for `MIN_ITERATIONS` of the cheapest iterations with it (down
  to 2): a round that tries more candidates on smaller evidence learns more than one that tries
  three on larger.
* Iterations: with no cap set, as many of the cheapest iterations as the search budget pays for
  (the budget is the limit); without a call cap either, `DEFAULT_MAX_ITERATIONS`.
* Merges: one attempt per 5 planned iterations (2 to 10): a merge needs lineages to recombine,
  which a longer search grows more of.
"""

from __future__ import annotations

import math

__all__ = ["DEFAULT_MAX_ITERATIONS", "iterations_for", "merges_for", "minibatch_for"]

DEFAULT_MAX_ITERATIONS = 10
MIN_ITERATIONS = 10
MINIBATCH_RANGE = (3, 5)
SMALLEST_MINIBATCH = 2
TRAIN_PER_MINIBATCH_EXAMPLE = 7
ITERATIONS_PER_MERGE = 5
MERGES_RANGE = (2, 10)


def minibatch_for(train_examples: int, search_calls: int | None, rollouts: int) -> int:
    low, high = MINIBATCH_RANGE
    size = min(high, max(low, math.ceil(train_examples / TRAIN_PER_MINIBATCH_EXAMPLE)))
    if search_calls is not None:
        while size > SMALLEST_MINIBATCH and search_calls < MIN_ITERATIONS * size * rollouts:
            size -= 1
    return size


def iterations_for(calls: int | None, cheapest: int) -> int:
    """With no iteration cap set, the budget is the limit (as many of the cheapest iterations as
    it pays for); without a call cap either, a round stops after DEFAULT_MAX_ITERATIONS."""
    if calls is None:
        return DEFAULT_MAX_ITERATIONS
    return max(1, calls // max(1, cheapest) + 1)


def merges_for(iterations: int) -> int:
    low, high = MERGES_RANGE
    return min(high, max(low, round(iterations / ITERATIONS_PER_MERGE)))
