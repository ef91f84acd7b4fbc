from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from gepad.engine import EngineConfig, EngineState
from gepad.engine.state import MergeState, new_round

from . import world

pytestmark = pytest.mark.anyio


async def evolved() -> EngineState:
    config = EngineConfig(max_merges=0)
    state, _, _ = await world.drive(world.seed_state(), world.dataset(), world.seams(), config,
                                    (), 6)
    return state


def busy(state: EngineState) -> EngineState:
    """`state` with every per-round field away from its default."""
    a, b = state.candidates[0].id, state.candidates[-1].id
    return replace(
        state,
        round_id="round-7",
        round_iterations=3,
        round_failed=frozenset({a}),
        merges=MergeState(attempted=frozenset({(a, b)}), due=2, total=5, this_round=1),
        partial_val=frozenset({b, a}),
    )


async def test_a_saved_state_loads_back_exactly() -> None:
    state = busy(await evolved())
    again = EngineState.from_json(state.to_json())
    # ScoreMatrix has no __eq__: its JSON stands for it.
    assert replace(again, scores=state.scores) == state
    assert again.scores.to_json() == state.scores.to_json()
    assert again.rng().random() == state.rng().random()


async def test_the_saved_state_is_compact_json() -> None:
    text = (await evolved()).to_json()
    assert json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False) == text


def test_a_state_of_another_format_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"^unsupported engine state format 99$"):
        EngineState.from_json('{"format": 99}')
    with pytest.raises(ValueError, match=r"^unsupported engine state format None$"):
        EngineState.from_json("{}")


async def test_a_state_saved_before_progressive_val_scoring_loads_with_nothing_partial() -> None:
    state = busy(await evolved())
    data = json.loads(state.to_json())
    del data["partial_val"]
    old = EngineState.from_json(json.dumps(data))
    assert old.partial_val == frozenset()
    assert replace(old, scores=state.scores, partial_val=state.partial_val) == state


def test_scores_must_have_a_row_per_candidate() -> None:
    state = world.seed_state()
    with pytest.raises(ValueError, match=r"^score matrix rows must match the candidate pool$"):
        replace(state, candidates=())


async def test_a_new_round_resets_the_round_and_keeps_the_search() -> None:
    state = busy(await evolved())
    r = new_round(state, "round-8")
    assert (r.round_id, r.round_iterations, r.round_failed) == ("round-8", 0, frozenset())
    assert r.merges == replace(state.merges, this_round=0, due=0)
    assert r.merges.attempted and r.merges.total == 5  # what was tried is never tried again
    assert r.partial_val == state.partial_val  # given up on until val changes, not per round
    assert (r.candidates, r.iteration, r.rng_state) == (
        state.candidates, state.iteration, state.rng_state)


async def test_a_seeded_round_draws_the_same_numbers_whatever_came_before() -> None:
    state = await evolved()
    first = new_round(state, "r", seed=5).rng().random(4)
    later = new_round(replace(state, rng_state=world.seed_state(seed=9).rng_state), "r", seed=5)
    assert later.rng().random(4).tolist() == first.tolist()
    assert first.tolist() == np.random.default_rng(5).random(4).tolist()
    # Without a seed the round continues the state's stream.
    assert new_round(state, "r").rng().random(4).tolist() == state.rng().random(4).tolist()
    # A fresh state draws from seed 0 unless told otherwise.
    seeds = world.seed_state().candidates
    assert EngineState.initial(seeds).rng_state == EngineState.initial(seeds, seed=0).rng_state
    assert EngineState.initial(seeds).rng().random() == np.random.default_rng(0).random()
