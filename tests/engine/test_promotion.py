from __future__ import annotations

import pytest

from gepad.engine import (
    Budget,
    Candidate,
    EngineConfig,
    EngineState,
    best_by_val,
    choose_promotion,
    frontier_report,
    step,
)

from . import world

pytestmark = pytest.mark.anyio
CFG = EngineConfig(max_merges=0)


async def evolved() -> tuple[EngineState, object, object]:
    data, s = world.dataset(), world.seams()
    state, _, _ = await world.drive(world.seed_state(), data, s, CFG, (), 8)
    return state, data, s


async def test_promotes_a_better_candidate_on_gate_and_explains() -> None:
    state, data, s = await evolved()
    served = state.candidates[0]
    r = await choose_promotion(state, data, s, CFG, (), served, margin=0.05)  # type: ignore[arg-type]
    d = r.decision
    best = best_by_val(state)
    assert best is not None and d.candidate_id == best.id
    assert d.promote, d.reasons
    assert d.candidate_gate_mean is not None and d.served_gate_mean is not None
    assert d.candidate_gate_mean > d.served_gate_mean + 0.05
    assert d.gate_examples == len(data.gate_ids)  # type: ignore[attr-defined]
    assert {e.split for e in r.new_evaluations} == {"gate"}


async def test_margin_and_dimension_regressions_block_promotion() -> None:
    state, data, s = await evolved()
    served = state.candidates[0]
    r = await choose_promotion(state, data, s, CFG, (), served, margin=5.0)  # type: ignore[arg-type]
    assert not r.decision.promote and "does not beat" in r.decision.reasons[0]
    # A served prompt that is short wins "brevity"; the long candidate regresses it.
    short = Candidate.create({"system": "answer " + " ".join(world.WORDS), "style": ""})
    long_best = best_by_val(state)
    assert long_best is not None
    padded = Candidate.create({k: v + " " + "z" * 200 for k, v in long_best.components.items()})
    st2 = EngineState.initial([padded])
    r2 = await step(st2, data, s, CFG, ())  # type: ignore[arg-type]
    p = await choose_promotion(r2.state, data, s, CFG, (), short, margin=-1.0)  # type: ignore[arg-type]
    assert not p.decision.promote
    assert any(x.startswith("dimension brevity regresses") for x in p.decision.reasons)


async def test_budget_blocks_gate_evaluation() -> None:
    state, data, s = await evolved()
    r = await choose_promotion(
        state, data, s, CFG, (Budget(max_metric_calls=1),), state.candidates[0]  # type: ignore[arg-type]
    )
    assert not r.decision.promote and "budget" in r.decision.reasons[0]
    assert r.metric_calls == 0


async def test_frontier_report_for_get_frontier() -> None:
    state, _, _ = await evolved()
    entries = frontier_report(state)
    assert entries and all(e.on_frontier for e in entries)
    top = entries[0]
    assert top.val_coverage == state.scores.aggregate.shape[1]
    assert top.instances_won > 0 and 0 <= top.val_score <= 1
    assert set(top.dimension_scores) == {"coverage", "brevity"}
    everyone = frontier_report(state, everyone=True)
    assert len(everyone) == len(state.candidates)


async def test_state_json_roundtrip_is_exact() -> None:
    state, _, _ = await evolved()
    again = EngineState.from_json(state.to_json())
    assert again.to_json() == state.to_json()
    assert again.rng().random() == state.rng().random()
    with pytest.raises(ValueError):
        EngineState.from_json('{"format": 99}')


async def test_a_tie_on_the_gate_does_not_promote() -> None:
    state, data, s = await evolved()
    best = best_by_val(state)
    assert best is not None
    # The same words plus one no example asks for: equal on every gate example.
    twin = Candidate.create({k: v + " filler" for k, v in best.components.items()})
    r = await choose_promotion(state, data, s, CFG, (), twin, margin=0.0)  # type: ignore[arg-type]
    d = r.decision
    assert d.candidate_gate_mean == d.served_gate_mean
    assert not d.promote and "does not beat" in d.reasons[-1]
