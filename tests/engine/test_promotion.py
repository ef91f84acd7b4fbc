from __future__ import annotations

import statistics
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
    Paired,
    PromotionDecision,
    RunnerOutput,
    Verdict,
    best_by_val,
    choose_promotion,
    decide_gate,
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
    assert d.reasons[0].startswith(
        f"gate mean {mean(best):.4f} beats served {mean(seed):.4f} by more than 0.05, beyond "
        f"noise: on {len(gate)} gate examples (noise measured with {len(data.val_ids)} val "  # type: ignore[attr-defined]
        "examples too) the gain is at least +")
    assert d.gain_lower_bound is not None and 0.05 < d.gain_lower_bound < mean(best) - mean(seed)
    assert d.confidence == 0.9 and d.val_examples == len(data.val_ids)  # type: ignore[attr-defined]
    # Every gate rollout is counted once, in calls and in usage.
    assert r.metric_calls == len(r.new_evaluations) == 2 * len(gate)
    assert r.usage.calls == 2 * 2 * len(gate)  # a task call and a judge call per rollout
    assert r.budgets == ()


async def padded_against_short() -> tuple[EngineState, object, object, Candidate]:
    """The best val candidate padded, scored, and a short served prompt: the short one wins
    "brevity", so the padded candidate regresses it by 0.5."""
    state, data, s = await evolved()
    best = best_by_val(state)
    assert best is not None
    short = Candidate.create({"system": "answer " + " ".join(world.WORDS), "style": ""})
    padded = Candidate.create({k: v + " " + "z" * 200 for k, v in best.components.items()})
    st = (await step(EngineState.initial([padded]), data, s, CFG, ())).state  # type: ignore[arg-type]
    return st, data, s, short


async def test_a_regressed_dimension_blocks_only_beyond_its_tolerance() -> None:
    st, data, s, short = await padded_against_short()
    for tolerance, promote in ((0.49, False), (0.5, True)):
        p = await choose_promotion(st, data, s, CFG, (), short, margin=-1.0,  # type: ignore[arg-type]
                                   dimension_tolerance=tolerance)
        assert p.decision.promote is promote, (tolerance, p.decision.reasons)
        blocked = [r for r in p.decision.reasons
                   if r.startswith("dimension brevity regresses by 0.5000")]
        assert bool(blocked) is not promote
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
    assert d.promote and "by more than 0.0, beyond noise" in d.reasons[0]


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
    assert not d.promote
    assert any(r.startswith("dimension brevity regresses by 0.5000") for r in d.reasons)


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


# ---------------------------------------------------------------------------- the decision rule


def spread(sd: float, n: int = 20, centre: float = 0.0) -> tuple[float, ...]:
    """`n` val differences around `centre` whose sample standard deviation is exactly `sd`."""
    half = n // 2
    return tuple(centre + sd * x * (n - 1) ** 0.5 / n**0.5 for x in [1.0] * half + [-1.0] * half)


def test_spread_helper_has_the_spread_it_says() -> None:
    assert statistics.stdev(spread(0.3)) == pytest.approx(0.3)


def test_the_issue_case_a_large_gain_with_a_tiny_noisy_drop_is_promoted() -> None:
    """0.97 against 0.28 on two gate examples, and a token-overlap score that moved from 0.891
    to 0.884: the rule before this one refused it."""
    v = decide_gate(
        Paired((0.70, 0.68), spread(0.25)),
        {"reference": Paired((-0.006, -0.008), spread(0.03))},
        (0.97, 0.28),
    )
    assert v.promote, v.reasons
    assert v.reasons[1].startswith("dimension reference drops by 0.0070, within its noise on 2 "
                                   "gate examples (it may have risen by up to 0.0")


def test_a_clearly_better_candidate_on_three_noisy_gate_examples_is_promoted() -> None:
    v = decide_gate(Paired((0.5, 0.35, 0.6), spread(0.3)), {}, (0.9, 0.42))
    assert v.promote and v.gain.lower > 0
    assert v.reasons == (
        f"gate mean 0.9000 beats served 0.4200 by more than 0.0, beyond noise: on 3 gate "
        f"examples (noise measured with 20 val examples too) the gain is at least "
        f"{v.gain.lower:+.4f} (90% confidence)",)


def test_a_gain_within_the_noise_of_a_few_examples_is_not_promoted() -> None:
    v = decide_gate(Paired((0.3, -0.2, 0.15), spread(0.3)), {}, (0.6, 0.517))
    assert v.gain.mean > 0 and not v.promote
    assert v.reasons[0].startswith("gate mean 0.6000 beats served 0.5170 by 0.0830, but that "
                                   "may be noise: on 3 gate examples")


def test_a_real_regression_on_one_dimension_refuses_a_better_candidate() -> None:
    v = decide_gate(
        Paired((0.25, 0.2, 0.3, 0.25, 0.25), spread(0.3)),
        {"format": Paired((-0.5, -0.5, -0.4, -0.6, -0.5), spread(0.3)),
         "tone": Paired((0.1, 0.0, 0.2, 0.1, 0.1), spread(0.3))},
        (0.8, 0.55),
    )
    assert v.gain.lower > 0 and not v.promote
    assert any(r.startswith("dimension format regresses by 0.5000 (by at least ")
               for r in v.reasons)
    assert not any("tone" in r for r in v.reasons)  # it rose: nothing to say


def test_val_lends_its_spread_and_never_its_mean() -> None:
    gate = (0.2, 0.25, 0.15, 0.2)
    narrow = decide_gate(Paired(gate, spread(0.1)), {}, (0.7, 0.5))
    wide = decide_gate(Paired(gate, spread(0.45)), {}, (0.7, 0.5))
    assert narrow.promote and not wide.promote
    for centre in (-0.5, 0.5):
        moved = decide_gate(Paired(gate, spread(0.1, centre=centre)), {}, (0.7, 0.5))
        assert moved.promote
        assert (moved.gain.lower, moved.gain.upper) == pytest.approx(
            (narrow.gain.lower, narrow.gain.upper))


def test_the_dimension_checks_share_one_error_budget() -> None:
    drop = Paired((-0.2,) * 5, spread(0.3))
    flat = Paired((0.0,) * 5, spread(0.3))
    gain = Paired((0.3,) * 5, spread(0.3))
    alone = decide_gate(gain, {"format": drop}, (0.8, 0.5))
    among = decide_gate(gain, {"format": drop, "tone": flat, "length": flat, "ref": flat},
                        (0.8, 0.5))
    assert alone.dimensions["format"].confidence == pytest.approx(0.9)
    assert among.dimensions["format"].confidence == pytest.approx(0.975)
    # Shown at 90 %, not at 97.5 %: one dimension blocks, one of four does not.
    assert not alone.promote and among.promote
    assert any(r.startswith("dimension format drops by 0.2000, within its noise")
               for r in among.reasons)


def test_a_drop_within_its_tolerance_does_not_block() -> None:
    gain = Paired((0.3,) * 5, spread(0.2))
    length = {"length": Paired((-0.1,) * 5, spread(0.05))}
    assert not decide_gate(gain, length, (0.8, 0.5)).promote
    assert decide_gate(gain, length, (0.8, 0.5), tolerance=0.1).promote
    v = decide_gate(gain, length, (0.8, 0.5), tolerances={"length": 0.15}, tolerance=0.0)
    assert v.promote
    assert v.reasons[1] == "dimension length drops by 0.1000, within its tolerance 0.15"
    assert not decide_gate(gain, length, (0.8, 0.5), tolerances={"tone": 0.5}).promote


def test_the_margin_is_still_what_the_gate_mean_must_gain() -> None:
    gain = Paired((0.08,) * 8, spread(0.05, n=40))
    assert decide_gate(gain, {}, (0.58, 0.5), margin=0.05).promote
    refused = decide_gate(gain, {}, (0.58, 0.5), margin=0.1)
    assert not refused.promote
    assert refused.reasons == ("gate mean 0.5800 does not beat served 0.5000 + margin 0.1",)


async def test_the_served_prompts_val_scores_measure_the_noise() -> None:
    state, data, s = await evolved()
    seed = state.candidates[0]
    n_val = len(data.val_ids)  # type: ignore[attr-defined]
    d = (await choose_promotion(state, data, s, CFG, (), seed)).decision  # type: ignore[arg-type]
    assert d.val_examples == n_val
    # The same prompt under another id (a served edit re-added) is found by its content.
    twin = Candidate.create(dict(seed.components), origin="human_edit")
    assert twin.id != seed.id
    d = (await choose_promotion(state, data, s, CFG, (), twin)).decision  # type: ignore[arg-type]
    assert d.val_examples == n_val
    # A served prompt the engine never scored on val: the gate and the prior alone.
    new = Candidate.create({"system": "answer kw1", "style": ""})
    d = (await choose_promotion(state, data, s, CFG, (), new)).decision  # type: ignore[arg-type]
    assert d.val_examples == 0 and "noise measured" not in d.reasons[0]


async def test_only_the_deciding_evaluators_decide_promotion() -> None:
    state, data, s = await evolved()
    served = state.candidates[0]

    async def decide(deciding: tuple[str, ...] | None) -> object:
        r = await choose_promotion(state, data, s, CFG, (), served,  # type: ignore[arg-type]
                                   deciding_dimensions=deciding)
        return r.decision

    everyone = await decide(None)
    assert everyone.promote  # type: ignore[attr-defined]
    by_coverage = await decide(("coverage",))
    assert by_coverage.promote  # type: ignore[attr-defined]
    # The gate's means are the deciding evaluator's alone, and only it is checked.
    assert set(by_coverage.dimension_deltas) == {"coverage"}  # type: ignore[attr-defined]
    # What won on coverage does not win on brevity: were brevity the one calibrated evaluator,
    # the candidate would stay where it is.
    by_brevity = await decide(("brevity",))
    assert not by_brevity.promote  # type: ignore[attr-defined]
    nobody = await decide(())
    assert not nobody.promote  # type: ignore[attr-defined]
    assert nobody.reasons == ("no evaluator may decide promotion (every one is off)",)  # type: ignore[attr-defined]
    unknown = await decide(("tone",))
    assert not unknown.promote  # type: ignore[attr-defined]
    assert "no gate example is graded by a deciding evaluator (tone)" in unknown.reasons[0]  # type: ignore[attr-defined]


async def test_an_evaluator_that_only_blocks_does_not_move_the_gate_mean() -> None:
    # What a gating failure-mode evaluator is to a round: the gain is measured by others
    # (coverage here), and it may only block a regression on its own dimension (brevity).
    st, data, s, short = await padded_against_short()

    async def decide(gated: tuple[str, ...]) -> PromotionDecision:
        r = await choose_promotion(st, data, s, CFG, (), short, margin=-1.0,  # type: ignore[arg-type]
                                   deciding_dimensions=("coverage",), gated_dimensions=gated,
                                   dimension_tolerances={"coverage": 1.0})
        return r.decision

    measured, blocked = await decide(("coverage",)), await decide(("coverage", "brevity"))
    assert measured.promote, measured.reasons
    assert not blocked.promote
    assert any(r.startswith("dimension brevity regresses by 0.5000") for r in blocked.reasons)
    # Same gain either way: the blocker is checked, never averaged in.
    assert blocked.candidate_gate_mean == measured.candidate_gate_mean
    assert blocked.served_gate_mean == measured.served_gate_mean
