from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gepad.engine import (
    Candidate,
    Dataset,
    EngineConfig,
    EngineState,
    MemoryEvaluationStore,
    add_candidates,
    eligible_pairs,
    frontier_of,
    plan_merge,
    step,
)
from gepad.engine.state import MergeState

from . import world

pytestmark = pytest.mark.anyio

S = Candidate.create({"system": "answer", "style": "plain"})
A = Candidate.create({"system": "answer kw0 kw1", "style": "plain"}, (S.id,), "reflection")
B = Candidate.create({"system": "answer", "style": "plain kw2 kw3"}, (S.id,), "reflection")
C = Candidate.create({"system": "answer kw0 kw1 kw4", "style": "plain"}, (A.id,), "reflection")
D = Candidate.create({"system": "answer kw5", "style": "plain"}, (S.id,), "reflection")
LONE = Candidate.create({"system": "other", "style": "x"})


def branched() -> EngineState:
    return add_candidates(EngineState.initial([S]), [A, B, C, D, LONE])


def branched_data() -> Dataset:
    return Dataset(
        [
            world.example(0, "val", ["kw0", "kw1", "kw7"]),
            world.example(1, "val", ["kw2", "kw3", "kw8"]),
            world.example(2, "val", ["kw5", "kw9", "kw10"]),
            *[world.example(i, "train", ["kw0", "kw2", "kw3"]) for i in range(3)],
            *[world.example(3 + i, "train", ["kw1", "kw2", "kw0"]) for i in range(3)],
        ]
    )


def test_eligibility_needs_common_ancestor_and_different_lineages() -> None:
    st = branched()
    assert plan_merge(st, A.id, B.id) is not None
    assert plan_merge(st, A.id, C.id) is None  # C descends from A
    assert plan_merge(st, S.id, B.id) is None  # S is B's ancestor
    assert plan_merge(st, A.id, LONE.id) is None  # no common ancestor
    assert plan_merge(st, C.id, B.id) is not None  # common ancestor S, through A
    # Both changed "system" since S: a conflict for the LLM, not a silent pick.
    plan = plan_merge(st, A.id, D.id)
    assert plan is not None and set(plan.conflicts) == {"system"}
    plan = plan_merge(st, A.id, B.id)
    assert plan is not None and not plan.conflicts
    assert plan.resolved == {"system": A.components["system"], "style": B.components["style"]}


def test_attempted_pairs_are_never_retried() -> None:
    st = branched()
    st = replace(st, merges=MergeState(attempted=frozenset({tuple(sorted((A.id, B.id)))})))
    assert plan_merge(st, B.id, A.id) is None
    rows = [st.index(c.id) for c in (A, B, D)]
    pairs = eligible_pairs(st, rows)
    assert tuple(sorted((A.id, B.id))) not in pairs
    assert tuple(sorted((A.id, D.id))) in pairs


async def prepared(config: EngineConfig) -> tuple[EngineState, Dataset, object]:
    data, s = branched_data(), world.seams()
    r = await step(branched(), data, s, config, ())
    assert r.action == "catch_up"
    s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
    state = replace(r.state, merges=replace(r.state.merges, due=1))
    return state, data, s


async def test_due_merge_combines_component_wise() -> None:
    config = EngineConfig(max_merges=3)
    state, data, s = await prepared(config)
    members = {state.candidates[int(m)].id for m in frontier_of(state.scores).members}
    assert {A.id, B.id} <= members
    r = await step(state, data, s, config, ())  # type: ignore[arg-type]
    assert r.action == "merge", r.detail
    assert r.state.merges.this_round == 1 and r.state.merges.total == 1
    assert r.event == "merge", r.detail
    (child,) = r.new_candidates
    assert child.origin == "merge" and set(child.parent_ids) <= members
    assert r.state.merges.attempted == frozenset({tuple(sorted(child.parent_ids))})
    assert r.accepted_id == child.id and child.id not in r.state.pending_val


async def test_merge_cap_is_a_cap() -> None:
    config = EngineConfig(max_merges=1)
    state, data, s = await prepared(config)
    state = replace(state, merges=replace(state.merges, due=5))
    actions = []
    for _ in range(6):
        r = await step(state, data, s, config, ())  # type: ignore[arg-type]
        s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
        state = r.state
        actions.append(r.action)
    assert actions.count("merge") == 1
    assert state.merges.this_round == 1


async def test_conflicting_merge_asks_the_reflection_lm() -> None:
    config = EngineConfig(max_merges=3)
    data = branched_data()
    s = world.seams()
    st = add_candidates(EngineState.initial([S]), [A, D])
    r = await step(st, data, s, config, ())
    s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
    st = replace(r.state, merges=replace(r.state.merges, due=1))
    r = await step(st, data, s, config, ())
    assert r.action == "merge"
    assert any(p.startswith("Two improved versions") for p in s.reflection.prompts)  # type: ignore[attr-defined]
    assert r.usage.calls >= 1


async def test_resume_through_merges_is_exact() -> None:
    config = EngineConfig(max_merges=3, seed=5)
    state0, data, s = await prepared(config)
    committed = list(s.store._rows.values())  # type: ignore[attr-defined]
    full, _, results = await world.drive(state0, data, s, config, (), 8)  # type: ignore[arg-type]
    assert any(r.action == "merge" for r in results)
    blob = state0.to_json()
    rows = list(committed)
    for _ in range(8):
        s2 = world.seams(MemoryEvaluationStore(rows))
        r = await step(EngineState.from_json(blob), data, s2, config, ())
        rows += r.new_evaluations
        blob = r.state.to_json()
    resumed = EngineState.from_json(blob)
    assert [c.id for c in resumed.candidates] == [c.id for c in full.candidates]
    assert np.array_equal(resumed.scores.aggregate, full.scores.aggregate, equal_nan=True)
