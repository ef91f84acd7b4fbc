from __future__ import annotations

from dataclasses import replace

import anyio
import pytest

from gepad.engine import (
    Budget,
    Candidate,
    Dataset,
    EngineConfig,
    EngineState,
    FunctionEvaluator,
    FunctionRunner,
    RunnerOutput,
    Verdict,
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
    d = r.decision
    best = best_by_val(state)
    assert best is not None
    assert (d.promote, d.candidate_id, d.served_id, d.reasons, d.gate_examples) == (
        False, best.id, state.candidates[0].id, ("budget exhausted before gate evaluation",),
        len(data.gate_ids))  # type: ignore[attr-defined]
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


async def test_every_way_the_gate_cannot_decide_says_why_and_spends_nothing_wrong() -> None:
    state, data, s = await evolved()
    best = best_by_val(state)
    assert best is not None
    seed = state.candidates[0]

    async def decide(st: EngineState, served: Candidate, dataset: object = data,
                     seams: object = s) -> tuple[object, object]:
        r = await choose_promotion(st, dataset, seams, CFG, (), served)  # type: ignore[arg-type]
        return r, r.decision

    # Nothing covers val yet: the seed before its first catch-up.
    fresh = world.seed_state()
    r, d = await decide(fresh, fresh.candidates[0])
    assert (d.promote, d.candidate_id, d.served_id, d.reasons) == (  # type: ignore[attr-defined]
        False, None, fresh.candidates[0].id, ("no candidate covers the whole val split",))
    assert r.metric_calls == 0 and r.new_evaluations == ()  # type: ignore[attr-defined]

    # The best val candidate is already served.
    r, d = await decide(state, best)
    assert (d.promote, d.candidate_id, d.served_id, d.reasons) == (  # type: ignore[attr-defined]
        False, best.id, best.id, ("the best val candidate is served",))
    assert r.metric_calls == 0  # type: ignore[attr-defined]

    # No gate examples in the user's data.
    no_gate = Dataset([data[e] for e in (*data.train_ids, *data.val_ids)])  # type: ignore[attr-defined]
    r, d = await decide(state, seed, no_gate)
    assert (d.promote, d.candidate_id, d.served_id, d.reasons) == (  # type: ignore[attr-defined]
        False, best.id, seed.id, ("no gate examples",))
    assert r.metric_calls == 0  # type: ignore[attr-defined]

    # Gate rollouts that fail: no decision on partial data, and the failures are reported.
    broken = replace(s, runner=FunctionRunner(_fails))  # type: ignore[type-var]
    r, d = await decide(state, seed, seams=broken)
    n = len(data.gate_ids)  # type: ignore[attr-defined]
    assert (d.promote, d.candidate_id, d.served_id, d.gate_examples) == (  # type: ignore[attr-defined]
        False, best.id, seed.id, n)
    assert d.reasons == (f"{2 * n} gate rollouts failed; not promoting on partial data",)  # type: ignore[attr-defined]
    assert r.errors and all("gate down" in e.cause and e.stage == "rollout" for e in r.errors)  # type: ignore[attr-defined]


def _fails(candidate: Candidate, example: object) -> RunnerOutput:
    raise RuntimeError("gate down")


async def test_a_decision_reports_both_means_and_every_dimension() -> None:
    state, data, s = await evolved()
    seed = state.candidates[0]
    r = await choose_promotion(state, data, s, CFG, (), seed, margin=0.05)  # type: ignore[arg-type]
    d = r.decision
    gate = [data[e] for e in data.gate_ids]  # type: ignore[attr-defined]
    best = best_by_val(state)
    assert best is not None
    expected = {c.id: [world.evaluate(ex, world.run(c, ex).output) for ex in gate]
                for c in (best, seed)}

    def mean(c: Candidate, dim: str | None = None) -> float:
        v = expected[c.id]
        return sum(x.aggregate if dim is None else x.scores[dim] for x in v) / len(v)

    assert (d.promote, d.candidate_id, d.served_id) == (True, best.id, seed.id)
    assert d.candidate_gate_mean == pytest.approx(mean(best))
    assert d.served_gate_mean == pytest.approx(mean(seed))
    assert d.dimension_deltas == pytest.approx(
        {dim: mean(best, dim) - mean(seed, dim) for dim in ("brevity", "coverage")})
    assert d.reasons[-1] == (f"gate mean {mean(best):.4f} beats served {mean(seed):.4f} "
                             f"by more than 0.05")
    # Every gate rollout is counted once, in calls and in usage.
    assert r.metric_calls == len(r.new_evaluations) == 2 * len(gate)
    assert r.usage.calls == 2 * 2 * len(gate)  # a task call and a judge call per rollout
    assert r.budgets == ()


async def test_a_regressed_dimension_blocks_only_beyond_its_tolerance() -> None:
    state, data, s = await evolved()
    best = best_by_val(state)
    assert best is not None
    # A served prompt that is short wins "brevity"; the padded best regresses it by 0.5.
    short = Candidate.create({"system": "answer " + " ".join(world.WORDS), "style": ""})
    padded = Candidate.create({k: v + " " + "z" * 200 for k, v in best.components.items()})
    st = (await step(EngineState.initial([padded]), data, s, CFG, ())).state  # type: ignore[arg-type]
    for tolerance, promote in ((0.49, False), (0.5, True)):
        p = await choose_promotion(st, data, s, CFG, (), short, margin=-1.0,  # type: ignore[arg-type]
                                   dimension_tolerance=tolerance)
        assert p.decision.promote is promote, (tolerance, p.decision.reasons)
        assert ("dimension brevity regresses by 0.5000" in p.decision.reasons) is not promote
        assert p.decision.dimension_deltas["brevity"] == pytest.approx(-0.5)
    # Only the dimensions named are gated: coverage regresses too, and is not looked at.
    p = await choose_promotion(st, data, s, CFG, (), short, margin=-1.0,  # type: ignore[arg-type]
                               gated_dimensions=["brevity"], dimension_tolerance=0.5)
    assert p.decision.promote and set(p.decision.dimension_deltas) == {"brevity"}


async def test_the_default_margin_is_zero() -> None:
    state, data, s = await evolved()
    seed = state.candidates[0]
    d = (await choose_promotion(state, data, s, CFG, (), seed)).decision  # type: ignore[arg-type]
    assert d.candidate_gate_mean is not None and d.served_gate_mean is not None
    assert 0 < d.candidate_gate_mean - d.served_gate_mean < 1
    assert d.promote and d.reasons[-1].endswith("by more than 0.0")


async def test_a_dimension_only_one_side_reports_is_not_gated_and_the_rest_still_are() -> None:
    state, data, s = await evolved()
    best = best_by_val(state)
    assert best is not None
    padded = Candidate.create({k: v + " " + "z" * 200 for k, v in best.components.items()})
    st = (await step(EngineState.initial([padded]), data, s, CFG, ())).state  # type: ignore[arg-type]
    # Only the served prompt's outputs carry "aaa-tone" (sorted first, before "brevity").
    served = Candidate.create({"system": "answer " + " ".join(world.WORDS), "style": "tone"})

    def evaluate(ex: object, output: str) -> Verdict:
        v = world.evaluate(ex, output)  # type: ignore[arg-type]
        if "tone" in output.split():
            v = replace(v, scores={**v.scores, "aaa-tone": 1.0})
        return v

    seams = replace(world.seams(), evaluator=FunctionEvaluator(evaluate, version="tone"))
    d = (await choose_promotion(st, data, seams, CFG, (), served, margin=-1.0)).decision  # type: ignore[arg-type]
    assert "aaa-tone" not in d.dimension_deltas
    assert not d.promote and "dimension brevity regresses by 0.5000" in d.reasons


async def test_gate_rollouts_share_the_daemons_limiter() -> None:
    state, data, _ = await evolved()
    seed = state.candidates[0]
    running = peak = 0

    async def slow_run(candidate: Candidate, ex: object) -> RunnerOutput:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.005)
        running -= 1
        return world.run(candidate, ex)  # type: ignore[arg-type]

    for limiter, most in ((None, CFG.max_concurrency), (anyio.CapacityLimiter(1), 1)):
        peak = 0
        seams = replace(world.seams(), runner=FunctionRunner(slow_run))
        await choose_promotion(state, data, seams, CFG, (), seed, limiter=limiter)  # type: ignore[arg-type]
        assert peak == most > 0
