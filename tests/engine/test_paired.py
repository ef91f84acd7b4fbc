from __future__ import annotations

import numpy as np
import pytest

from gepad.engine.paired import PRIOR_SD, mean_bounds, student_t_quantile

# Student's t quantiles from published tables (6 significant digits).
TABLE = [
    (0.95, 1, 6.31375),
    (0.95, 2, 2.91999),
    (0.90, 3, 1.63774),
    (0.975, 10, 2.22814),
    (0.995, 5, 4.03214),
    (0.95, 30, 1.69726),
    (0.95, 31, 1.69552),
    (0.99, 31, 2.45282),
    (0.95, 100, 1.66023),
    (0.90, 1000, 1.28240),
]


@pytest.mark.parametrize(("p", "df", "expected"), TABLE)
def test_t_quantiles_match_the_tables(p: float, df: int, expected: float) -> None:
    assert student_t_quantile(p, df) == pytest.approx(expected, abs=2e-5)


def test_the_median_of_t_is_zero_and_bad_arguments_are_refused() -> None:
    assert student_t_quantile(0.5, 3) == 0.0
    for p, df in ((0.4, 3), (1.0, 3), (0.9, 0)):
        with pytest.raises(ValueError):
            student_t_quantile(p, df)


def test_three_agreeing_examples_do_not_claim_certainty() -> None:
    b = mean_bounds([0.1, 0.1, 0.1], 0.9)
    # No spread in the sample: the one-example prior alone sets it.
    assert b.sd == pytest.approx(PRIOR_SD / np.sqrt(3))
    assert b.lower < 0 < b.upper and b.mean == pytest.approx(0.1)


def test_a_second_sample_lends_its_spread_but_never_its_mean() -> None:
    gate = [0.30, 0.25, 0.35]
    alone = mean_bounds(gate, 0.9)
    # Val differences that agree closely, around a very different (selection-inflated) mean.
    val = [0.9 + 0.01 * (i % 3) for i in range(40)]
    pooled = mean_bounds(gate, 0.9, spread_from=val)
    assert pooled.mean == alone.mean
    assert pooled.lower > alone.lower > 0
    assert pooled.upper < alone.upper
    assert pooled.df == 1 + 2 + 39
    # Shifting the second sample's mean changes nothing.
    shifted = mean_bounds(gate, 0.9, spread_from=[v - 2.0 for v in val])
    assert (shifted.lower, shifted.upper) == pytest.approx((pooled.lower, pooled.upper))


def test_a_whole_population_has_no_uncertainty_left() -> None:
    diffs = [0.2, -0.1, 0.4, 0.0]
    b = mean_bounds(diffs, 0.95, population=4)
    assert b.lower == b.upper == pytest.approx(0.125)
    half = mean_bounds(diffs, 0.95, population=8)
    wide = mean_bounds(diffs, 0.95)
    assert wide.upper - wide.mean == pytest.approx((half.upper - half.mean) * np.sqrt(2))


def test_bounds_hold_at_least_as_often_as_promised() -> None:
    rng = np.random.default_rng(7)
    misses = 0
    trials = 4000
    for _ in range(trials):
        sample = rng.normal(0.05, 0.3, size=4)
        misses += mean_bounds(sample, 0.9).lower > 0.05
    assert misses / trials <= 0.1


def test_no_sample_or_a_bad_confidence_is_refused() -> None:
    with pytest.raises(ValueError):
        mean_bounds([], 0.9)
    with pytest.raises(ValueError):
        mean_bounds([0.1], 1.0)
