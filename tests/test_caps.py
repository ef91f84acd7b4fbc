"""Budget caps: a request only lowers them, admin alone raises them, and none is unlimited."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gepad.caps import DEFAULT_CAPS, BudgetCaps, check_caps, effective_caps
from gepad.errors import InvalidArgument, PermissionDenied

FIELDS = tuple(BudgetCaps.__dataclass_fields__)


def test_every_default_cap_is_finite_and_set() -> None:
    for name in FIELDS:
        value = getattr(DEFAULT_CAPS, name)
        assert 0 < value < math.inf, name


def test_a_program_that_sets_nothing_runs_under_the_daemons_defaults() -> None:
    assert effective_caps(BudgetCaps(), DEFAULT_CAPS) == DEFAULT_CAPS


def test_a_request_lowers_a_cap_but_a_user_cannot_raise_one() -> None:
    program = BudgetCaps(max_metric_calls_per_round=50, max_cost_usd_per_round=1.0)
    lowered = effective_caps(program, DEFAULT_CAPS, BudgetCaps(max_metric_calls_per_round=20))
    assert lowered.max_metric_calls_per_round == 20
    assert lowered.max_cost_usd_per_round == 1.0
    assert lowered.max_tokens_per_round == DEFAULT_CAPS.max_tokens_per_round
    with pytest.raises(PermissionDenied, match="max_metric_calls_per_round"):
        effective_caps(program, DEFAULT_CAPS, BudgetCaps(max_metric_calls_per_round=10**9))
    # Above the daemon's default where the program set nothing: refused too.
    with pytest.raises(PermissionDenied, match="max_tokens_per_round"):
        effective_caps(program, DEFAULT_CAPS, BudgetCaps(max_tokens_per_round=10**12))
    raised = effective_caps(program, DEFAULT_CAPS, BudgetCaps(max_metric_calls_per_round=10**9),
                            may_raise=True)
    assert raised.max_metric_calls_per_round == 10**9


@given(st.builds(BudgetCaps, *[st.integers(0, 10**6) if n.find("cost") < 0
                               else st.floats(0, 100) for n in FIELDS]),
       st.builds(BudgetCaps, *[st.integers(0, 10**6) if n.find("cost") < 0
                               else st.floats(0, 100) for n in FIELDS]))
def test_what_a_user_gets_is_never_above_the_program_or_default(program: BudgetCaps,
                                                                  request: BudgetCaps) -> None:
    try:
        caps = effective_caps(program, DEFAULT_CAPS, request)
    except PermissionDenied:
        return
    for name in FIELDS:
        bound = getattr(program, name) or getattr(DEFAULT_CAPS, name)
        assert 0 < getattr(caps, name) <= bound


@pytest.mark.parametrize("bad", [math.nan, math.inf, -1.0])
def test_a_cap_that_would_mean_no_cap_is_refused_naming_it(bad: float) -> None:
    with pytest.raises(InvalidArgument, match=r"program\.budget\.max_cost_usd_per_round"):
        check_caps("program.budget", BudgetCaps(max_cost_usd_per_round=bad))
