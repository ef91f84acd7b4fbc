"""``python -m bench loop`` in its smallest configuration, end to end: one simulated user talks to
the real daemon (a subprocess) over gRPC, the daemon's round reaches the world's models through
litellm at the loopback model server, and gepa runs on the same data. Performance is the
benchmark's business, not this test's: it checks that every figure is produced."""

from __future__ import annotations

import pytest

from bench.__main__ import main as bench_main
from bench.daemon_loop import SMALLEST, run
from bench.daemon_loop_report import outcome, report


def test_the_smallest_configuration_runs_against_the_real_daemon() -> None:
    results = run(SMALLEST, progress=lambda _: None)
    ((config, users),) = results.rows.items()
    (user,) = users
    (round_,) = user.rounds
    assert round_.status == "succeeded", round_.message
    assert outcome(round_) in {"promoted", "gate said no", "no decision"}, round_.message
    assert round_.metric_calls <= config.budget
    assert min(user.served, user.gepa, user.seed_prompt) > 0.0
    assert user.gepa_calls > 0
    assert sum(user.kinds.values()) == SMALLEST.oneshot_interactions
    assert results.model_calls["task"] > 0
    text = report(results)
    assert "Served prompt vs gepa" in text and config.label in text


def test_registry_lists_the_loop_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["--help"]) == 0
    assert "loop" in capsys.readouterr().err
