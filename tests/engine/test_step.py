from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from gepad.engine import (
    Budget,
    Candidate,
    Dataset,
    EngineConfig,
    EngineState,
    Evaluation,
    EvaluationError,
    Example,
    FunctionEvaluator,
    FunctionRunner,
    MemoryEvaluationStore,
    Reply,
    ScriptedReflectionLM,
    Seams,
    Verdict,
    best_by_val,
    catch_up,
    choose_promotion,
    frontier_of,
    new_round,
    step,
)
from gepad.engine.reflection import BEGIN, END

from . import world

pytestmark = pytest.mark.anyio
CFG = EngineConfig(max_merges=0)


def counting_runner(calls: Counter[tuple[str, str]]) -> FunctionRunner:
    def run(c: Candidate, ex: Example):  # type: ignore[no-untyped-def]
        calls[(c.content_hash, ex.id)] += 1
        return world.run(c, ex)

    return FunctionRunner(run)


async def test_first_step_scores_the_seed_then_reflection_is_accepted() -> None:
    data, s = world.dataset(), world.seams()
    state = world.seed_state()
    r1 = await step(state, data, s, CFG, ())
    assert (r1.action, r1.event) == ("catch_up", "catch_up")
    assert {e.split for e in r1.new_evaluations} == {"val"}
    assert len(r1.new_evaluations) == len(data.val_ids)
    s.store.add(r1.new_evaluations)  # type: ignore[attr-defined]
    r2 = await step(r1.state, data, s, CFG, ())
    assert r2.event == "accepted" and r2.accepted_id is not None
    (child,) = r2.new_candidates
    assert child.parent_ids == (state.candidates[0].id,) and child.origin == "reflection"
    assert r2.state.scores.aggregate.shape == (2, len(data.val_ids))
    assert not np.isnan(r2.state.scores.aggregate).any()
    splits = Counter(e.split for e in r2.new_evaluations)
    assert splits["val"] == len(data.val_ids) and splits["train"] == 2 * CFG.minibatch_size
    assert r2.usage.calls > 0 and r2.metric_calls == sum(splits.values())


async def test_each_step_continues_the_random_stream_of_the_last() -> None:
    """Parent and minibatch draws go on from where the previous step left the generator: a
    step that restarted it would draw the same parent and batch order every time."""
    data, s = world.dataset(n_train=12), world.seams()
    state, _, _ = await world.drive(world.seed_state(), data, s, CFG, (), 1)  # seed scored
    seen = []
    for _ in range(4):
        r = await step(state, data, s, CFG, ())
        s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
        assert r.action == "reflection"
        assert r.state.rng_state != state.rng_state
        assert r.state.rng().random() != state.rng().random()
        seen.append(r.state.rng_state)
        state = r.state
    assert len({repr(x) for x in seen}) == len(seen)


async def test_step_does_not_mutate_its_input_state() -> None:
    data, s = world.dataset(), world.seams()
    state, _, _ = await world.drive(world.seed_state(), data, s, CFG, (), 2)
    before = state.to_json()
    await step(state, data, s, CFG, ())
    assert state.to_json() == before


async def test_child_must_strictly_improve_the_minibatch_sum() -> None:
    data = world.dataset()
    s = world.seams()
    # A reflection LM whose edits never change any score.
    s = replace(
        s,
        reflection=ScriptedReflectionLM(
            lambda p: Reply(f"r\n{BEGIN}\nanswer nothing {len(p)}\n{END}", finish_reason="stop")
        ),
    )
    state = world.seed_state({"system": "answer"})
    r = await step(state, data, s, CFG, ())
    s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
    r = await step(r.state, data, s, CFG, ())
    assert r.event == "rejected" and r.new_candidates == ()
    assert len(r.state.candidates) == 1
    # The child's train rollouts are still returned: they are valid cache rows.
    assert {e.split for e in r.new_evaluations} == {"train"}
    assert len({e.candidate_id for e in r.new_evaluations}) == 2


async def test_no_rollout_is_ever_run_twice() -> None:
    data = world.dataset(n_train=6, n_val=5)
    calls: Counter[tuple[str, str]] = Counter()
    s = replace(world.seams(), runner=counting_runner(calls))
    _state, _, results = await world.drive(world.seed_state(), data, s, CFG, (), 30)
    assert sum(r.event == "accepted" for r in results) >= 3
    assert any(r.event == "skipped" for r in results)  # parents were re-drawn; cache answered
    assert calls and max(calls.values()) == 1
    total = sum(r.metric_calls for r in results)
    assert total == sum(calls.values())


async def test_cached_parent_rollouts_are_reused_not_rerun() -> None:
    data = world.dataset(n_train=3, n_val=3)  # one minibatch = the whole train split
    calls: Counter[tuple[str, str]] = Counter()
    n = itertools.count()
    s = replace(
        world.seams(),
        runner=counting_runner(calls),
        reflection=ScriptedReflectionLM(
            lambda p: Reply(f"r\n{BEGIN}\nanswer v{next(n)}\n{END}", finish_reason="stop")
        ),
    )
    seed = world.seed_state({"system": "answer"})
    state, _, results = await world.drive(seed, data, s, CFG, (), 4)
    assert [r.event for r in results] == ["catch_up", "rejected", "rejected", "rejected"]
    seed_hash = state.candidates[0].content_hash
    assert all(calls[(seed_hash, e)] == 1 for e in data.train_ids)
    assert results[2].metric_calls == 3 and results[3].metric_calls == 3  # child only


async def test_evaluator_version_change_rescores_and_never_reuses_old_rows() -> None:
    data = world.dataset()
    s1 = world.seams(evaluator_version="v1")
    state, _, _ = await world.drive(world.seed_state(), data, s1, CFG, (), 3)
    store = s1.store
    assert isinstance(store, MemoryEvaluationStore)
    calls: Counter[tuple[str, str]] = Counter()
    s2 = replace(world.seams(store, evaluator_version="v2"), runner=counting_runner(calls))
    r = await step(state, data, s2, CFG, ())
    assert r.action == "catch_up"
    assert r.new_evaluations and all("v2" in e.key.evaluator_version for e in r.new_evaluations)
    front = frontier_of(state.scores)
    assert len(r.new_evaluations) == len(front) * len(data.val_ids)
    assert sum(calls.values()) == len(r.new_evaluations)


async def test_new_val_examples_score_only_frontier_candidates_lazily() -> None:
    data = world.dataset()
    calls: Counter[tuple[str, str]] = Counter()
    s = replace(world.seams(), runner=counting_runner(calls))
    state, _, _ = await world.drive(world.seed_state(), data, s, CFG, (), 6)
    assert len(state.candidates) > 2
    before = sum(calls.values())
    extra = [world.example(100 + i, "val", ["kw1", "kw2", "kw3"]) for i in range(3)]
    grown = Dataset([*data, *extra])
    r = await step(state, grown, s, CFG, ())
    assert r.action == "catch_up"
    front = frontier_of(state.scores)
    assert sum(calls.values()) - before == len(front) * 3
    assert {e.key.example_id for e in r.new_evaluations} == {e.id for e in extra}
    assert r.state.scores.columns[-3:] == tuple(sorted(e.id for e in extra))
    # A changed example (a correction arrived) invalidates its column only.
    changed = replace(grown[data.val_ids[0]], reference="kw9 kw10 kw11")
    regrown = Dataset([changed if e.id == changed.id else e for e in grown])
    s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
    r2 = await step(r.state, regrown, s, CFG, ())
    assert r2.action == "catch_up"
    assert {e.key.example_id for e in r2.new_evaluations} == {changed.id}


async def test_new_train_examples_join_at_the_next_epoch() -> None:
    data = world.dataset(n_train=6)
    s = world.seams()
    state, _, _ = await world.drive(world.seed_state(), data, s, CFG, (), 2)
    order = state.sampler.order
    grown = Dataset([*data, world.example(50, "train", ["kw1", "kw2", "kw3"])])
    r = await step(state, grown, s, CFG, ())
    assert r.state.sampler.order == order or r.state.sampler.epoch == state.sampler.epoch + 1
    if r.state.sampler.epoch > state.sampler.epoch:
        assert "train-050" in r.state.sampler.order


async def test_no_data_without_train_examples() -> None:
    data = Dataset([world.example(0, "val", ["kw1", "kw2", "kw3"])])
    s = world.seams()
    r = await step(world.seed_state(), data, s, CFG, ())
    assert r.action == "catch_up"
    s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
    r = await step(r.state, data, s, CFG, ())
    assert r.event == "no_data"


async def test_failed_verdicts_are_surfaced_not_cached_and_not_looped() -> None:
    data = world.dataset()
    bad = data.val_ids[0]

    def evaluate(ex: Example, out: str) -> Verdict:
        if ex.id == bad:
            raise EvaluationError("judge broke its contract")
        return world.evaluate(ex, out)

    s = replace(world.seams(), evaluator=FunctionEvaluator(evaluate))
    r = await step(world.seed_state(), data, s, CFG, ())
    assert r.action == "catch_up" and r.errors and "judge broke" in r.errors[0].cause
    assert bad not in {e.key.example_id for e in r.new_evaluations}
    assert r.metric_calls == len(data.val_ids)  # the failed call still counts
    s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
    r2 = await step(r.state, data, s, CFG, ())
    assert r2.action == "reflection"  # not retried within the round
    r3 = await catch_up(new_round(r2.state, "round-2"), data, s, CFG, ())
    assert r3.errors  # retried in the next round


async def test_reflection_failure_is_an_error_event_with_usage() -> None:
    class Boom(Exception):
        pass

    def fail(prompt: str) -> Reply:
        raise Boom("provider down")

    data, s = world.dataset(), world.seams()
    s = replace(s, reflection=ScriptedReflectionLM(fail))
    state, _, results = await world.drive(world.seed_state(), data, s, CFG, (), 2)
    assert results[1].event == "error" and "provider down" in results[1].detail
    assert len(state.candidates) == 1


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
async def test_resume_at_random_boundaries_equals_uninterrupted(seed: int) -> None:
    data = world.dataset(n_train=8, n_val=6)
    config = EngineConfig(max_merges=2, seed=seed, rollouts_per_example=2)
    n = 14
    budgets = (Budget(max_metric_calls=10_000),)
    s = world.seams()
    full, full_budgets, full_results = await world.drive(
        world.seed_state(seed=seed), data, s, config, budgets, n
    )
    kills = sorted(random.Random(seed).sample(range(1, n), 4))
    committed: list = []  # what the daemon's database holds
    blob = world.seed_state(seed=seed).to_json()
    current = budgets
    events = []
    done = 0
    for stop in [*kills, n]:
        # A fresh process: state from JSON, a store with only committed rows, new seams.
        s2 = world.seams(MemoryEvaluationStore(committed))
        state = EngineState.from_json(blob)
        while done < stop:
            r = await step(state, data, s2, config, current)
            committed += r.new_evaluations
            s2.store.add(r.new_evaluations)  # type: ignore[attr-defined]
            state, current = r.state, r.budgets
            events.append(r.event)
            done += 1
        blob = state.to_json()
    resumed = EngineState.from_json(blob)
    assert [c.id for c in resumed.candidates] == [c.id for c in full.candidates]
    assert np.array_equal(resumed.scores.aggregate, full.scores.aggregate, equal_nan=True)
    assert events == [r.event for r in full_results]
    assert current == full_budgets
    assert resumed.to_json() == full.to_json()


async def test_val_that_cannot_be_afforded_stays_pending_and_catches_up() -> None:
    data, s = world.dataset(), world.seams()
    state, _, _ = await world.drive(world.seed_state(), data, s, CFG, (), 1)
    # Enough for parent + child minibatches (6) and 2 of the 6 val rollouts.
    r = await step(state, data, s, CFG, (Budget(max_metric_calls=8),))
    assert r.event == "budget_exhausted" and r.accepted_id is not None
    assert r.state.pending_val == (r.accepted_id,)
    assert r.budgets[0].metric_calls == 8
    s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
    r2 = await step(r.state, data, s, CFG, ())
    assert r2.action == "catch_up" and r2.metric_calls == len(data.val_ids) - 2
    assert r2.state.pending_val == ()


# ---------------------------------------------------------------------------- progressive val

VAL_WORDS = ["kw0", "kw1", "kw2", "kw3", "kw4", "kw5"]
TRAIN_WORDS = ["kw6", "kw7", "kw8", "kw9", "kw10", "kw11"]
# Waves of 4 on 24 val examples: six looks at a child before it is fully scored.
WAVES = EngineConfig(max_merges=0, max_concurrency=4)


def split_world(n_val: int = 24) -> Dataset:
    """Train examples want train words, val examples want val words: what a child learns on
    the minibatch says nothing about val."""
    rnd = random.Random(3)
    train = [world.example(i, "train", rnd.sample(TRAIN_WORDS, 3)) for i in range(6)]
    val = [world.example(i, "val", rnd.sample(VAL_WORDS, 3)) for i in range(n_val)]
    return Dataset([*train, *val])


def rewriting_to(text: str) -> ScriptedReflectionLM:
    return ScriptedReflectionLM(lambda p: Reply(f"r\n{BEGIN}\n{text}\n{END}", finish_reason="stop"))


async def test_a_child_that_loses_every_scored_val_example_stops_and_is_never_promoted() -> None:
    data = split_world()
    # The seed is perfect on val; its child trades every val word for the train words.
    s = replace(world.seams(), reflection=rewriting_to("answer " + " ".join(TRAIN_WORDS)))
    seed = world.seed_state({"system": "answer " + " ".join(VAL_WORDS)})
    state, _, _ = await world.drive(seed, data, s, WAVES, (), 1)
    r = await step(state, data, s, WAVES, ())
    assert r.event == "accepted" and r.accepted_id is not None
    row = r.state.scores.aggregate[r.state.index(r.accepted_id)]
    # One wave of 4, every one lost (0 against 1): twenty top scores could not reach 1.0.
    assert int((~np.isnan(row)).sum()) == 4 and np.nanmax(row) == 0.0
    # Drawn at random, not the first four by id (a prefix of a random order is a fair sample).
    assert list(np.flatnonzero(~np.isnan(row))) != [0, 1, 2, 3]
    assert r.metric_calls == 2 * 3 + 4
    assert r.accepted_id in r.state.partial_val and r.state.pending_val == ()
    assert f"stopped scoring {r.accepted_id} after 4 of 24 val examples" in r.detail
    # Owed nothing afterwards, and never the val winner the gate looks at.
    s.store.add(r.new_evaluations)  # type: ignore[attr-defined]
    later = await catch_up(r.state, data, s, WAVES, ())
    assert later.event == "skipped" and later.metric_calls == 0
    best = best_by_val(r.state)
    assert best is not None and best.id == seed.candidates[0].id
    decision = (await choose_promotion(r.state, data, s, WAVES, (), seed.candidates[0])).decision
    assert decision.candidate_id == seed.candidates[0].id and not decision.promote


async def test_a_child_that_can_still_win_is_scored_on_all_of_val() -> None:
    data = split_world()
    # The seed knows half the val words; the child keeps them and adds the rest.
    s = replace(
        world.seams(), reflection=rewriting_to("answer " + " ".join(VAL_WORDS + TRAIN_WORDS))
    )
    seed = world.seed_state({"system": "answer kw0 kw1 kw2"})
    state, _, _ = await world.drive(seed, data, s, WAVES, (), 1)
    r = await step(state, data, s, WAVES, ())
    assert r.event == "accepted" and r.accepted_id is not None
    assert not np.isnan(r.state.scores.aggregate[r.state.index(r.accepted_id)]).any()
    assert r.metric_calls == 2 * 3 + 24 and r.state.partial_val == frozenset()
    best = best_by_val(r.state)
    assert best is not None and best.id == r.accepted_id


async def test_full_val_scoring_scores_even_a_hopeless_child_everywhere() -> None:
    data = split_world()
    s = replace(world.seams(), reflection=rewriting_to("answer " + " ".join(TRAIN_WORDS)))
    seed = world.seed_state({"system": "answer " + " ".join(VAL_WORDS)})
    config = replace(WAVES, val_scoring="full")
    state, _, _ = await world.drive(seed, data, s, config, (), 1)
    r = await step(state, data, s, config, ())
    assert r.event == "accepted" and r.metric_calls == 2 * 3 + 24
    assert r.state.partial_val == frozenset()


async def test_a_frontier_member_given_up_on_is_only_raced_again_when_val_changes() -> None:
    data = split_world()
    s = world.seams()
    seed = Candidate.create({"system": "answer kw0 kw1 kw2"})
    child = Candidate.create({"system": "answer kw0 kw1 kw2 kw3"}, (seed.id,), "reflection")
    state = EngineState.initial([seed, child])
    m = state.scores.copy()
    m.add_columns((e, data[e].fingerprint) for e in data.val_ids)
    wins = [j for j, e in enumerate(data.val_ids) if "kw3" in (data[e].reference or "")][:4]
    for row, cand in enumerate((seed, child)):
        for j, e in enumerate(data.val_ids):
            if row == 0 or j in wins:
                v = world.evaluate(data[e], world.run(cand, data[e]).output)
                m.set(row, j, v.aggregate, v.scores)
    # A partly scored child that wins the kw3 examples: a frontier member left partial.
    state = replace(state, scores=m, pending_val=(), partial_val=frozenset({child.id}),
                    scorer_version=s.scorer_version)
    assert 1 in frontier_of(state.scores).members
    same = await catch_up(state, data, s, WAVES, ())
    assert same.event == "skipped" and same.metric_calls == 0
    extra = world.example(100, "val", ["kw3", "kw4", "kw5"])
    grown = await catch_up(state, Dataset([*data, extra]), s, WAVES, ())
    scored = {e.key.example_id for e in grown.new_evaluations if e.candidate_id == child.id}
    assert extra.id in scored
    # With a new example nobody is fully scored: the child, best so far on what it was scored
    # on, is raced first and completed; then the seed, which it matches or beats everywhere,
    # cannot beat it and is the one left partial.
    assert not np.isnan(grown.state.scores.aggregate[1]).any()
    assert grown.state.partial_val == frozenset({seed.id})
    best = best_by_val(grown.state)
    assert best is not None and best.id == child.id


async def test_a_committed_val_rollout_is_reused_by_a_race_not_rerun() -> None:
    data = split_world()
    calls: Counter[tuple[str, str]] = Counter()
    s = replace(
        world.seams(),
        runner=counting_runner(calls),
        reflection=rewriting_to("answer kw0 kw1 " + " ".join(TRAIN_WORDS)),
    )
    seed = world.seed_state({"system": "answer kw0 kw1 kw2"})
    state, _, _ = await world.drive(seed, data, s, WAVES, (), 1)
    first = await step(state, data, s, WAVES, ())
    child = first.accepted_id
    assert child is not None and child in first.state.partial_val
    # The same step again with the child's val rollouts committed: cached cells are taken
    # first and none is run again.
    s.store.add(first.new_evaluations)  # type: ignore[attr-defined]
    again = await step(state, data, s, WAVES, ())
    assert max(calls.values()) == 1
    before = ~np.isnan(first.state.scores.aggregate[first.state.index(child)])
    after = ~np.isnan(again.state.scores.aggregate[again.state.index(child)])
    assert (after >= before).all()


def shuffling_reflection() -> ScriptedReflectionLM:
    """Rewrites to a pseudo-random half of all the words: a function of the prompt alone, so
    every process proposes the same, and children come out good and bad on val at random."""

    def reply(prompt: str) -> Reply:
        rnd = random.Random(hashlib.sha256(prompt.encode()).hexdigest())
        words = rnd.sample(VAL_WORDS + TRAIN_WORDS, 6)
        return Reply(f"r\n{BEGIN}\nanswer {' '.join(words)}\n{END}", finish_reason="stop")

    return ScriptedReflectionLM(reply)


@pytest.mark.parametrize("seed", [0, 1, 2])
async def test_progressive_races_resume_exactly(seed: int) -> None:
    """Kills between steps of a search whose children are raced on val: the random orders come
    from the saved generator, so the resumed search is the same search."""
    data = split_world(n_val=30)
    config = EngineConfig(max_merges=2, seed=seed, max_concurrency=2)
    n = 16

    def seams(store: MemoryEvaluationStore | None = None) -> Seams:
        return replace(world.seams(store), reflection=shuffling_reflection())

    s = seams()
    full, _, results = await world.drive(world.seed_state(seed=seed), data, s, config, (), n)
    assert any("stopped scoring" in r.detail for r in results)  # the path under test ran
    committed: list[Evaluation] = []
    blob = world.seed_state(seed=seed).to_json()
    done = 0
    for stop in [*sorted(random.Random(seed).sample(range(1, n), 5)), n]:
        s2 = seams(MemoryEvaluationStore(committed))
        state = EngineState.from_json(blob)
        while done < stop:
            r = await step(state, data, s2, config, ())
            committed += r.new_evaluations
            s2.store.add(r.new_evaluations)  # type: ignore[attr-defined]
            state = r.state
            done += 1
        blob = state.to_json()
    assert blob == full.to_json()
