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


@pytest.mark.parametrize("kind", ["metric_calls", "tokens", "cost_usd"])
def test_each_cap_admits_exactly_up_to_its_limit(kind: str) -> None:
    cap = {"metric_calls": "max_metric_calls", "tokens": "max_tokens",
           "cost_usd": "max_cost_usd"}[kind]
    spent = {kind: 3}
    budget = Budget(**{cap: 10}, **spent)  # type: ignore[arg-type]
    ledger = Ledger([budget, Budget()])  # an unlimited budget beside it changes nothing
    assert ledger.fits(Spend(**{kind: 7}))  # type: ignore[arg-type]  # 3 + 7 == 10: at the cap
    assert not ledger.fits(Spend(**{kind: 8}))  # type: ignore[arg-type]
    assert ledger.affordable(Spend(**{kind: 2}), 100) == 3  # type: ignore[arg-type]
    held = ledger.reserve(Spend(**{kind: 5}))  # type: ignore[arg-type]
    assert held is not None
    assert not ledger.fits(Spend(**{kind: 3}))  # type: ignore[arg-type]  # reserved counts
    assert ledger.fits(Spend(**{kind: 2}))  # type: ignore[arg-type]
    held.close()  # nothing spent: the whole reservation comes back
    assert ledger.fits(Spend(**{kind: 7}))  # type: ignore[arg-type]
    assert ledger.budgets == (budget, Budget())


def test_charging_books_what_was_spent_and_releases_only_that() -> None:
    ledger = Ledger([Budget(max_metric_calls=10, max_tokens=100, max_cost_usd=1.0)])
    held = ledger.reserve(Spend(4, 40, 0.4))
    assert held is not None
    held.charge(1, Usage(tokens=15, cost_usd=0.1, calls=2))
    # Spent 1/15/0.1; still held 3/25/0.3: 6/60/0.6 left to reserve.
    assert ledger.fits(Spend(6, 60, 0.5)) and not ledger.fits(Spend(7, 0, 0.0))
    assert not ledger.fits(Spend(0, 61, 0.0)) and not ledger.fits(Spend(0, 0, 0.61))
    # A call that used more tokens than reserved books all of them, releasing only what was held.
    held.charge(1, Usage(tokens=50, cost_usd=0.5, calls=1))
    (b,) = ledger.budgets
    assert (b.metric_calls, b.tokens, b.cost_usd, b.llm_calls) == (2, 65, pytest.approx(0.6), 3)
    assert ledger.metric_calls == 2
    assert ledger.usage == Usage(tokens=65, cost_usd=pytest.approx(0.6), calls=3)
    held.close()
    held.close()  # closing twice returns nothing twice
    assert ledger.fits(Spend(8, 35, 0.4)) and not ledger.fits(Spend(9, 0, 0.0))
    with pytest.raises(RuntimeError, match="already closed"):
        held.charge(0, Usage())


def test_a_budget_is_exhausted_at_its_cap_and_reports_itself() -> None:
    assert not Budget().exhausted()
    assert not Budget(max_metric_calls=2, metric_calls=1).exhausted()
    assert Budget(max_metric_calls=2, metric_calls=2).exhausted()
    assert Budget(max_tokens=5, tokens=5).exhausted()
    assert not Budget(max_tokens=5, tokens=4).exhausted()
    assert Budget(max_cost_usd=0.5, cost_usd=0.5).exhausted()
    assert not Budget(max_cost_usd=0.5, cost_usd=0.49).exhausted()
    b = Budget(max_metric_calls=1, max_tokens=2, max_cost_usd=0.3, metric_calls=4, tokens=5,
               cost_usd=0.6, llm_calls=7)
    assert b.to_dict() == {"max_metric_calls": 1, "max_tokens": 2, "max_cost_usd": 0.3,
                           "metric_calls": 4, "tokens": 5, "cost_usd": 0.6, "llm_calls": 7}
    assert Spend(1, 2, 0.5) + Spend(3, 4, 0.25) == Spend(4, 6, 0.75)
    assert Spend(1, 2, 0.5).times(3) == Spend(3, 6, 1.5)


def test_a_charge_releases_the_cost_it_books_and_close_the_rest() -> None:
    # Binary fractions, so that "exactly at the cap" is exact.
    ledger = Ledger([Budget(max_cost_usd=1.0)])
    held = ledger.reserve(Spend(cost_usd=0.5))
    assert held is not None
    held.charge(0, Usage(cost_usd=0.25, calls=1))
    # Spent 0.25, still held 0.25: exactly 0.5 is left to reserve.
    assert ledger.fits(Spend(cost_usd=0.5)) and not ledger.fits(Spend(cost_usd=0.625))
    held.close()
    assert ledger.fits(Spend(cost_usd=0.75)) and not ledger.fits(Spend(cost_usd=0.875))
    assert ledger.budgets[0].cost_usd == 0.25


def test_affordable_is_the_largest_count_that_fits() -> None:
    ledger = Ledger([Budget(max_metric_calls=7, max_tokens=100)])
    assert ledger.affordable(Spend(1, 10), 100) == 7
    assert ledger.affordable(Spend(1, 15), 100) == 6  # tokens bind first
    assert ledger.affordable(Spend(1, 10), 3) == 3  # no more than wanted
    assert ledger.affordable(Spend(8), 5) == 0  # not even one fits
    assert ledger.affordable(Spend(1), 0) == 0


def test_the_ledgers_own_mistakes_are_named() -> None:
    ledger = Ledger([Budget(max_metric_calls=5)])
    held = ledger.reserve(Spend(1))
    assert held is not None
    with pytest.raises(RuntimeError, match=r"^metric calls spent beyond the reservation$"):
        held.charge(2, Usage())
    held.close()
    with pytest.raises(RuntimeError, match=r"^reservation already closed$"):
        held.charge(0, Usage())
