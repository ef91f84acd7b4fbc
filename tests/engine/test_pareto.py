from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gepad.engine import ScoreMatrix, compute_frontier
from gepad.engine.frontier import frontier_of
from gepad.engine.pareto import TOL, winners


def brute_force(obj: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """The module's definitions, literally, with Python loops."""
    n, k = obj.shape
    best = []
    for j in range(k):
        known = [obj[i, j] for i in range(n) if not np.isnan(obj[i, j])]
        best.append(max(known) if known else None)
    wins = [
        sum(
            1
            for j in range(k)
            if best[j] is not None and not np.isnan(obj[i, j]) and obj[i, j] >= best[j] - TOL
        )
        for i in range(n)
    ]

    def dominates(d: int, c: int) -> bool:
        strictly = False
        for j in range(k):
            if np.isnan(obj[c, j]):
                continue
            if np.isnan(obj[d, j]) or obj[d, j] < obj[c, j] - TOL:
                return False
            if obj[d, j] > obj[c, j] + TOL:
                strictly = True
        return strictly

    members = [
        c
        for c in range(n)
        if wins[c] > 0 and not any(dominates(d, c) for d in range(n) if d != c)
    ]
    return members, [wins[m] for m in members], wins


SCORES = [0.0, 0.25, 0.5, 0.5 - TOL / 2, 0.5 + TOL / 2, 0.5 - 3 * TOL, 0.75, 1.0, 1.0 - TOL]
matrices = st.integers(1, 7).flatmap(
    lambda n: st.integers(1, 8).flatmap(
        lambda k: st.lists(
            # Exact ties, ties within TOL (and at its edge), and gaps just beyond it.
            st.one_of(st.none(), st.sampled_from(SCORES)),
            min_size=n * k,
            max_size=n * k,
        ).map(
            lambda xs: np.array([np.nan if x is None else x for x in xs], dtype=float).reshape(n, k)
        )
    )
)


@settings(max_examples=300, deadline=None)
@given(matrices)
def test_frontier_matches_brute_force(obj: np.ndarray) -> None:
    front = compute_frontier(obj)
    members, weights, wins = brute_force(obj)
    assert front.members.tolist() == members
    assert front.weights.tolist() == weights
    assert front.wins.tolist() == wins
    assert front.members.dtype == front.weights.dtype == front.wins.dtype == np.int64


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0)])
def test_a_frontier_of_nothing_is_empty(shape: tuple[int, int]) -> None:
    front = compute_frontier(np.zeros(shape))
    assert len(front) == 0
    assert front.members.dtype == front.weights.dtype == front.wins.dtype == np.int64
    assert front.weights.tolist() == [] and front.wins.tolist() == [0] * shape[0]
    assert winners(np.zeros(shape)).shape == shape


def test_unscored_candidates_win_nothing() -> None:
    obj = np.full((2, 3), np.nan)
    assert not winners(obj).any()
    front = compute_frontier(obj)
    assert len(front) == 0 and front.wins.tolist() == [0, 0]
    # Negative scores still have a best: the least bad wins.
    assert compute_frontier(np.array([[-2.0], [-1.0]])).members.tolist() == [1]


def test_scores_within_tolerance_of_the_best_share_the_win() -> None:
    obj = np.array([
        [1.0, 0.2],
        [1.0 - TOL, 0.1],  # ties row 0 on column 0 (at the tolerance's edge)...
        [1.0 - 3 * TOL, 0.3],  # ...this one does not
    ])
    front = compute_frontier(obj)
    assert front.wins.tolist() == [1, 1, 1]
    # Row 1 ties row 0 where it wins and is worse elsewhere: dominated. Row 2 wins column 1.
    assert front.members.tolist() == [0, 2]
    exact_tie = compute_frontier(np.array([[0.5, 0.0], [0.5, 0.0]]))
    assert exact_tie.members.tolist() == [0, 1] and exact_tie.weights.tolist() == [2, 2]


def test_dominated_winner_is_pruned_and_weights_count_instances() -> None:
    obj = np.array(
        [
            [1.0, 0.5, 0.0],  # wins col 0 only, but row 1 ties there and is better elsewhere
            [1.0, 0.6, 0.2],  # dominates row 0
            [0.0, 0.0, 0.9],  # wins col 2
            [np.nan, np.nan, np.nan],
        ]
    )
    front = compute_frontier(obj)
    assert front.members.tolist() == [1, 2]
    assert front.weights.tolist() == [2, 1]


def test_unknown_scores_neither_win_nor_dominate() -> None:
    obj = np.array([[1.0, np.nan], [1.0, 0.2]])
    # Row 1 is not known to dominate row 0 on column 1 (row 0 unknown there): both stay.
    front = compute_frontier(obj)
    assert front.members.tolist() == [0, 1]
    assert front.weights.tolist() == [1, 2]


def test_frontier_cache_invalidated_by_writes() -> None:
    m = ScoreMatrix()
    m.add_columns([("a", "f"), ("b", "f")])
    r0, r1 = m.add_row(), m.add_row()
    m.set(r0, 0, 1.0, {})
    m.set(r1, 1, 1.0, {})
    assert frontier_of(m).members.tolist() == [0, 1]
    m2 = m.copy()
    m2.set(r1, 0, 1.0, {})
    m2.set(r0, 1, 0.0, {})
    assert frontier_of(m2).members.tolist() == [1]
    assert frontier_of(m).members.tolist() == [0, 1]  # the original is untouched


def test_dimension_frontier_uses_instance_dimension_pairs() -> None:
    m = ScoreMatrix()
    m.add_columns([("a", "f")])
    r0, r1 = m.add_row(), m.add_row()
    m.set(r0, 0, 0.9, {"tone": 0.9, "format": 0.1})
    m.set(r1, 0, 0.5, {"tone": 0.1, "format": 0.9})
    assert frontier_of(m, "instance").members.tolist() == [0]
    assert frontier_of(m, "dimension").members.tolist() == [0, 1]


def test_matrix_roundtrip_is_bit_exact_and_grows() -> None:
    m = ScoreMatrix()
    rng = np.random.default_rng(1)
    m.add_columns([(f"e{i}", f"fp{i}") for i in range(9)])
    for _ in range(11):
        r = m.add_row()
        for j in range(9):
            if rng.random() < 0.7:
                m.set(r, j, float(rng.random()), {"d": float(rng.random())})
    back = ScoreMatrix.from_dict(m.to_dict())
    assert np.array_equal(back.aggregate, m.aggregate, equal_nan=True)
    assert np.array_equal(back.dimension("d"), m.dimension("d"), equal_nan=True)
    assert back.columns == m.columns and back.fingerprints == m.fingerprints
    m.drop_columns(["e3"])
    assert m.columns == tuple(f"e{i}" for i in range(9) if i != 3)
    assert m.aggregate.shape == (11, 8)
