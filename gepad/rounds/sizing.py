"""How big a round's steps are when the program leaves it to gepad: derived from the round's
budget, not fixed numbers.

* Minibatch: reflection reads the minibatch and the accept test compares parent and child on it.
  GEPA's 3 unless the round's calls could not pay for `MIN_ITERATIONS` of the cheapest
  iterations with it; then 2: a round that tries more candidates on smaller evidence learns more
  than one that tries a few on larger. Growing it with the train split (up to 5) was measured
  and lost: the daemon-loop benchmark's oracle rows fell by 0.016–0.036 in median at 300 calls
  and at 100 a day (bench/RESULTS.md, run 4), so it does not grow.
* Iterations: with no cap set, as many of the cheapest iterations as the search budget pays for
  (the budget is the limit); without a call cap either, `DEFAULT_MAX_ITERATIONS`.
* Merges: one attempt per 5 planned iterations, between 1 and 5 (GEPA's default): a merge needs
  lineages to recombine, which a short search does not grow; 10 at 300 calls was measured to
  lose (run 4).
"""

from __future__ import annotations

__all__ = ["DEFAULT_MAX_ITERATIONS", "iterations_for", "merges_for", "minibatch_for"]

DEFAULT_MAX_ITERATIONS = 10
MIN_ITERATIONS = 10
MINIBATCH = 3
SMALLEST_MINIBATCH = 2
ITERATIONS_PER_MERGE = 5
MERGES_RANGE = (1, 5)


def minibatch_for(search_calls: int | None, rollouts: int) -> int:
    size = MINIBATCH
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
