from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gepad.engine import (
    Budget,
    Candidate,
    EngineConfig,
    Ledger,
    Spend,
    Usage,
    choose_promotion,
    step,
)

from . import world
from .test_merge import branched, branched_data

# The world's calls: a rollout costs 12 tokens (runner 7 + evaluator 5), a reflection 20.
EXACT = dict(
    rollout_token_allowance=12,
    rollout_cost_allowance_usd=0.0,
    reflection_token_allowance=20,
    reflection_cost_allowance_usd=0.0,
)


def test_ledger_reserves_before_spending_and_respects_every_budget() -> None:
    ledger = Ledger([Budget(max_metric_calls=10), Budget(max_metric_calls=4, metric_calls=1)])
    assert ledger.affordable(Spend(1), 100) == 3
    r = ledger.reserve(Spend(3))
    assert r is not None
    assert ledger.reserve(Spend(1)) is None  # the day budget is fully reserved
    r.charge(2, Usage(tokens=5, calls=1))
    r.close()
    assert ledger.budgets[1].metric_calls == 3 and ledger.budgets[0].metric_calls == 2
    assert ledger.reserve(Spend(1)) is not None
    with pytest.raises(RuntimeError):
        r2 = ledger.reserve(Spend(0))
        assert r2 is not None
        r2.charge(1, Usage())  # spending a metric call that was not reserved


caps = st.tuples(
    st.one_of(st.none(), st.integers(0, 60)),
    st.one_of(st.none(), st.integers(0, 900)),
    st.one_of(st.none(), st.integers(0, 60)),
    st.one_of(st.none(), st.integers(0, 900)),
    st.sampled_from([1, 2]),
    st.booleans(),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(caps)
def test_caps_are_never_exceeded_on_any_path(params: tuple) -> None:  # type: ignore[type-arg]
    import anyio

    calls_round, tokens_round, calls_day, tokens_day, k, branch = params
    budgets = (
        Budget(max_metric_calls=calls_round, max_tokens=tokens_round),
        Budget(max_metric_calls=calls_day, max_tokens=tokens_day, metric_calls=3, tokens=30),
    )
    config = EngineConfig(max_merges=2, rollouts_per_example=k, **EXACT)

    async def run() -> None:
        s = world.seams()
        if branch:  # merges and catch-up of several candidates
            state, data = branched(), branched_data()
            state = replace(state, merges=replace(state.merges, due=2))
        else:
            state, data = world.seed_state(), world.dataset()
        current = budgets
        for _ in range(12):
            r = await step(state, data, s, config, current)
            s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
            check(r.budgets)
            state, current = r.state, r.budgets
            if r.event == "budget_exhausted":
                break
        served = Candidate.create({"system": "served", "style": ""})
        p = await choose_promotion(state, data, s, config, current, served, margin=0.0)
        check(p.budgets)

    anyio.run(run)


def check(budgets: tuple[Budget, ...]) -> None:
    for b in budgets:
        if b.max_metric_calls is not None:
            assert b.metric_calls <= max(b.max_metric_calls, 3)
        if b.max_tokens is not None:
            assert b.tokens <= max(b.max_tokens, 30)


@pytest.mark.anyio
async def test_budget_exhausted_before_anything_is_spent_keeps_the_state() -> None:
    s, data = world.seams(), world.dataset()
    state, _, _ = await world.drive(world.seed_state(), data, s, EngineConfig(), (), 1)
    tight = (Budget(max_metric_calls=2),)  # a reflection needs 3 parent + 3 child rollouts
    r = await step(state, data, s, EngineConfig(), tight)
    assert r.event == "budget_exhausted" and r.metric_calls == 0
    assert r.state.to_json() == state.to_json()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
