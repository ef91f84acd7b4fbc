from __future__ import annotations

import pytest

from gepad.engine import ScoreMatrix
from gepad.engine.pareto import TOL
from gepad.engine.progressive import Race


def matrix(rows: list[list[float | None]]) -> ScoreMatrix:
    m = ScoreMatrix(0, [(f"v{j}", "fp") for j in range(len(rows[0]))])
    for values in rows:
        r = m.add_row()
        for c, v in enumerate(values):
            if v is not None:
                m.set(r, c, v, {})
    return m


def raced(
    rows: list[list[float]], row: int, scored: list[int], confidence: float = 0.95
) -> tuple[Race, ScoreMatrix]:
    """A race on `row` begun with none of its scores, after it has scored the columns `scored`
    (with their values in `rows`)."""
    blank: list[list[float | None]] = [list(r) for r in rows]
    blank[row] = [None] * len(rows[row])
    m = matrix(blank)
    race = Race(m, row, confidence)
    for c in scored:
        m.set(row, c, rows[row][c], {})
    return race, m


def test_the_top_score_on_every_missing_example_bounds_what_a_row_can_reach() -> None:
    m = matrix([[1.0] * 8, [0.0, 0.0, None, None, None, None, None, None]])
    race = Race(m, 1, 0.95)
    assert race.best_row == 0 and race.best_mean == 1.0
    assert race.optimistic_mean(m) == pytest.approx(6 / 8)
    # Lost by 1 on both scored examples: even six perfect scores leave it behind.
    assert not race.can_beat_best(m)


def test_a_row_level_with_the_best_so_far_stays_in_the_running() -> None:
    best = [0.5] * 16
    m = matrix([best, [0.5] * 8 + [None] * 8])
    assert Race(m, 1, 0.95).can_beat_best(m)
    # Level within the frontier's tolerance counts as level.
    m = matrix([best, [0.5 - TOL / 2] * 8 + [None] * 8])
    assert Race(m, 1, 0.95).can_beat_best(m)


def test_a_sample_clearly_behind_the_best_stops_before_the_certain_bound_would() -> None:
    full = [[0.67] * 24, [0.33] * 24]
    race, m = raced(full, 1, [0, 5, 9, 17])
    # Twenty top scores could still lift it to 0.89 > 0.67: only the sample says no.
    assert race.best_mean is not None and race.optimistic_mean(m) > race.best_mean
    bound = race.lead_bound(m)
    assert bound is not None and bound < 0
    assert not race.can_beat_best(m)
    # A single example says too little, and it is kept.
    race, m = raced(full, 1, [3])
    assert race.can_beat_best(m)


def test_a_sample_ahead_of_the_best_keeps_the_row() -> None:
    race, m = raced([[0.5] * 24, [0.75] * 24], 1, [0, 1, 2, 3])
    bound = race.lead_bound(m)
    assert bound is not None and bound > 0
    assert race.can_beat_best(m)


def test_scores_a_row_had_before_its_race_count_exactly_not_as_a_sample() -> None:
    # Ahead by 0.5 on the first half (yesterday's examples), behind on today's sampled one: the
    # bound adds the exact half to a bound on the rest, not a sample mean over both.
    m = matrix([[0.5] * 8, [1.0] * 4 + [None] * 4])
    race = Race(m, 1, 0.95)
    assert race.lead_bound(m) is None  # nothing sampled yet
    m.set(1, 4, 0.0, {})
    bound = race.lead_bound(m)
    assert bound is not None and bound > 0  # exact +2.0 outweighs a bound on 4 x (-0.5)


def test_without_a_fully_scored_row_there_is_no_best_and_everyone_runs() -> None:
    m = matrix([[1.0, None], [0.0, None]])
    race = Race(m, 1, 0.95)
    assert race.best_row is None and race.can_beat_best(m)


def test_the_reason_says_where_a_given_up_row_is_left() -> None:
    # Row 1 wins example 2 outright but cannot reach the best: it stays on the frontier.
    m = matrix([[1.0, 1.0, 0.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.5, None, None, None]])
    race = Race(m, 1, 0.95)
    assert not race.can_beat_best(m)
    text = race.why_out(m, "instance")
    assert text.startswith("after 3 of 6 val examples: its val mean can reach at most 0.5833")
    assert text.endswith("it stays on the frontier")
    m.set(1, 2, 0.0, {})
    assert race.why_out(m, "instance").endswith("it is off the frontier")
