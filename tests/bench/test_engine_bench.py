"""Smoke test of ``python -m bench engine --quick`` on gepad's side (gepa is a bench-only peer and
its latency-bound runs take longer than a unit test should)."""

from __future__ import annotations

import pytest

from bench.__main__ import main as bench_main
from bench.engine_vs_gepa import (
    QUICK,
    calls_scenario,
    incremental_scenario,
    run,
    wall_scenario,
)


def test_quick_gepad_scenarios_run_and_keep_their_budgets() -> None:
    (calls,) = calls_scenario(QUICK, ("gepad",))
    traj = calls.trajectories["gepad"]
    assert traj.total_calls <= QUICK.budget  # a hard cap, unlike gepa's
    assert traj.final > calls.seed_score  # the engine improves the prompt on this world

    (inc,) = incremental_scenario(QUICK, ("gepad",))
    assert len(inc.daily["gepad"]) == QUICK.days
    assert inc.calls["gepad"] <= QUICK.days * QUICK.gepad_day_budget

    (wall,) = wall_scenario(QUICK, ("gepad",))
    walls = wall.trajectories["gepad"].iteration_wall_s
    assert len(walls) == QUICK.wall_iterations
    # Rollouts run in parallel: an iteration costs a few latencies, not one per LLM call (run
    # one after another, even a rejected iteration's 13 calls would take 1.3 s).
    assert max(walls) < 12 * QUICK.latency_s


def test_quick_report_prints_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    sections, raw = run(QUICK, ("gepad",), {"calls", "cpu", "valscoring"})
    assert set(raw) == {"calls", "cpu", "valscoring"}
    out = capsys.readouterr().out
    assert "1. Score reached vs metric calls" in out and "4. gepad engine CPU" in out
    assert "5. gepad with full vs progressive val scoring" in out
    assert len(sections) == 3


def test_registry_lists_the_engine_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["--help"]) == 0
    assert "engine" in capsys.readouterr().err
