"""Smoke test of ``python -m bench gate --quick``, and the old rule restated there."""

from __future__ import annotations

import pytest

from bench.__main__ import main as bench_main
from bench.gate import QUICK, Case, old_rule, report, run


def row(aggregate: float, **dims: float) -> dict[str, float]:
    return {"aggregate": aggregate, "format": 1.0, "tone": 1.0, "length": 1.0,
            "reference": 0.9, **dims}


def test_the_old_rule_refused_a_large_gain_over_a_tiny_drop_on_any_dimension() -> None:
    """The fault issue 6 reports, reproduced by the restated rule the benchmark compares with."""
    cand = [row(0.97, reference=0.884)] * 2
    served = [row(0.28, reference=0.891)] * 2
    case = Case(0, 2, {}, ([], []), (cand, served))
    assert not old_rule(case)
    assert old_rule(Case(0, 2, {}, ([], []), ([row(0.97)] * 2, served)))


def test_quick_gate_run_reports_every_rule_at_every_size_whatever_the_workers() -> None:
    cases = run(QUICK, workers=1)
    assert cases == run(QUICK, workers=2)
    assert {c.size for c in cases} == set(QUICK.sizes)
    text = report(cases, QUICK)
    for size in QUICK.sizes:
        for rule in ("old", "new 90%", "val-pooled 90%"):
            assert any(line.split()[:1] == [str(size)] and f" {rule} " in line
                       for line in text.splitlines()), (size, rule)


def test_registry_lists_the_gate_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["--help"]) == 0
    assert "gate" in capsys.readouterr().err
