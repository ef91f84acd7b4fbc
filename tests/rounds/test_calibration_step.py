"""Keeping a user's evaluators calibrated: generation at the label threshold, status from the
figures, re-calibration when a version changes, demotion on drift, and which evaluators decide."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest

from gepad.engine import ChatMessage
from gepad.evaluator_set import EvaluatorSet
from gepad.evaluators import EvaluatorPanel, JudgeEvaluator, ReferenceEvaluator
from gepad.evaluators.calibration import Thresholds
from gepad.feedback.event import FeedbackEvent
from gepad.llm import ScriptedLLM
from gepad.programs import Program
from gepad.rounds.calibration_step import (
    CalibrationPolicy,
    CalibrationStep,
    calibrate_evaluators,
    mode_evaluator,
)
from gepad.rubric import Rubric, RubricItem

pytestmark = pytest.mark.anyio

PHRASE = "As an AI language model"
PROGRAM = Program("bot", {"system": "seed"})
NONE_YET = EvaluatorSet()
DEFAULT = CalibrationPolicy()


def feedback(n: int, start: int = 0, tag: str = "") -> list[FeedbackEvent]:
    """n rejected outputs with the phrase the user hates, n accepted ones without it."""
    out = []
    for i in range(start, start + n):
        q = (("user", f"question {i}"),)
        out.append(FeedbackEvent(f"bad{i}", "alice", "bot", "rejection", input=q,
                                 output=f"{PHRASE}, {tag}answer {i}.",
                                 comment="stop saying you are an AI"))
        out.append(FeedbackEvent(f"ok{i}", "alice", "bot", "acceptance", input=q,
                                 output=f"{tag}Answer {i}."))
    return out


def rubric_of(events: Sequence[FeedbackEvent]) -> Rubric:
    bad = tuple(e.event_id for e in events if e.kind == "rejection")
    return Rubric((RubricItem("no_ai_disclaimer", "This user does not want to be told the "
                              "assistant is an AI.", "all requests", bad),), len(events), 1.0)


def graded(messages: Sequence[ChatMessage]) -> str:
    prompt = messages[-1].content
    return prompt.split("output to grade]\n", 1)[1].split("\n[/", 1)[0]


def judge(grade: Callable[[str], float], version: str = "judge-a") -> ScriptedLLM:
    def answer(messages: Sequence[ChatMessage]) -> str:
        if messages[0].content.startswith("You turn one failure mode"):
            return json.dumps({"kind": "rule", "must_not_match": ["as an AI language model"]})
        return json.dumps({"score": grade(graded(messages)), "feedback": "graded"})
    return ScriptedLLM(answer, version=version)


def honest(output: str) -> float:
    return 0.0 if PHRASE in output else 1.0


def gamed(output: str) -> float:
    return 1.0 if PHRASE in output else 0.0  # rewards the very phrase the user rejects


async def step(events: list[FeedbackEvent], llm: ScriptedLLM,
               previous: EvaluatorSet = NONE_YET, now: float = 100.0,
               policy: CalibrationPolicy = DEFAULT) -> CalibrationStep:
    return await calibrate_evaluators(PROGRAM, rubric_of(events), events, {}, previous, llm,
                                      policy, now)


async def test_a_mode_with_enough_labels_gets_a_calibrated_rule_and_coverage() -> None:
    events = feedback(24)
    done = await step(events, judge(honest))
    rule = done.evaluators.get("fm_no_ai_disclaimer")
    assert rule is not None and rule.kind == "rule" and rule.origin == "generated"
    assert rule.status == "gating", rule.reason
    assert rule.calibration.mcc == pytest.approx(1.0)
    assert rule.calibration.n >= 10
    assert done.evaluators.coverage == (1, 1)
    judge_ = done.evaluators.get("judge")
    assert judge_ is not None and judge_.status == "gating"
    reference = done.evaluators.get("reference")
    assert reference is not None and reference.status == "advisory"
    assert "not measurable" in reference.reason  # no correction: nothing to compare
    # The judge measures the gain; the mode's rule speaks for its mode only: it may block.
    assert done.deciding == ("judge",) and done.blocking == ("fm_no_ai_disclaimer",)
    assert "fm_no_ai_disclaimer may block a regression on its failure mode" in done.note
    assert [m.version for m in done.members] == [rule.version]
    assert any("generated rule evaluator fm_no_ai_disclaimer" in line for line in done.log)
    assert [entry.text for entry in done.evaluators.log] == list(done.log)


async def test_a_judge_that_rewards_what_people_reject_is_off_and_decides_nothing() -> None:
    done = await step(feedback(24), judge(gamed))
    judge_ = done.evaluators.get("judge")
    assert judge_ is not None and judge_.status == "off"
    assert judge_.calibration.mcc == pytest.approx(-1.0)
    # No evaluator of the whole output is left: the gating rule measures the gain alone.
    assert done.deciding == ("fm_no_ai_disclaimer",) and done.blocking == ()
    assert "the judge is off" in done.note


async def test_the_reference_check_never_decides_alone() -> None:
    # The judge is off and no mode has its own evaluator yet: nothing can tell a better prompt
    # from the served one (the reference favours the served prompt's own outputs).
    no_rules = CalibrationPolicy(generate_after=1000)
    done = await step(feedback(24), judge(gamed), policy=no_rules)
    assert done.evaluators.get("judge").status == "off"  # type: ignore[union-attr]
    assert done.deciding == ()
    assert done.note.startswith("no evaluator can measure a new prompt's gain yet: the judge is "
                                "off: MCC -1.00")


async def test_below_the_label_threshold_nothing_is_generated_and_the_judge_is_advisory() -> None:
    done = await step(feedback(6), judge(honest))
    assert done.evaluators.get("fm_no_ai_disclaimer") is None
    assert done.evaluators.coverage == (0, 1)
    judge_ = done.evaluators.get("judge")
    assert judge_ is not None and judge_.status == "advisory"
    assert "fewer than the 10 needed" in judge_.reason
    assert done.deciding == ("reference", "judge")
    assert "cold start" in done.note


async def test_thresholds_come_from_the_policy() -> None:
    strict = CalibrationPolicy(thresholds=Thresholds(min_n=1000), generate_after=1000)
    done = await step(feedback(24), judge(honest), policy=strict)
    assert {e.name: e.status for e in done.evaluators.evaluators} == {
        "reference": "advisory", "judge": "advisory"}


async def test_calibration_is_kept_until_a_version_or_the_labels_change() -> None:
    events = feedback(24)
    first = await step(events, judge(honest))
    again = judge(honest)
    kept = await step(events, again, first.evaluators, now=200.0)
    assert again.requests == []  # nothing changed: no judge call spent
    assert kept.evaluators.evaluators == first.evaluators.evaluators
    # A new judge model bumps the judge's version: its calibration is redone, the rule's is not.
    other = judge(honest, version="judge-b")
    redone = await step(events, other, first.evaluators, now=300.0)
    judge_ = redone.evaluators.get("judge")
    assert judge_ is not None and judge_.calibrated_at == 300.0
    assert judge_.version != first.evaluators.get("judge").version  # type: ignore[union-attr]
    assert other.requests
    assert redone.evaluators.get("fm_no_ai_disclaimer").calibrated_at == 100.0  # type: ignore[union-attr]
    assert any("its version changed" in line for line in redone.log)
    # Enough new labels make every calibration stale.
    more = events + feedback(3, start=100)
    fresh = await step(more, judge(honest), first.evaluators, now=400.0)
    assert all(e.calibrated_at == 400.0 for e in fresh.evaluators.evaluators)


async def test_a_gating_evaluator_that_new_labels_disagree_with_is_demoted() -> None:
    events = feedback(24)
    first = await step(events, judge(honest))
    assert first.evaluators.get("judge").status == "gating"  # type: ignore[union-attr]

    def drifted(output: str) -> float:  # wrong on everything it sees from now on
        return 1.0 - honest(output) if "late " in output else honest(output)

    later = events + feedback(4, start=100, tag="late ")
    done = await step(later, judge(drifted), first.evaluators, now=500.0)
    judge_ = done.evaluators.get("judge")
    assert judge_ is not None and judge_.status == "advisory"
    assert judge_.reason.startswith("drift: it disagreed with 8 of 8 new labels")
    assert any(line.startswith("demoted judge to advisory: drift") for line in done.log)
    assert "judge" not in (done.deciding or ())
    # The rule still agrees with the new labels: it stays gating.
    assert done.evaluators.get("fm_no_ai_disclaimer").status == "gating"  # type: ignore[union-attr]


async def test_the_set_survives_its_stored_form() -> None:
    done = await step(feedback(24), judge(honest))
    assert EvaluatorSet.from_json(done.evaluators.to_json()) == done.evaluators


async def test_a_calibration_older_than_the_cadence_is_redone() -> None:
    events = feedback(24)
    first = await step(events, judge(honest))
    week = CalibrationPolicy().recalibrate_every_s
    due = await step(events, judge(honest), first.evaluators, now=100.0 + week)
    assert all(e.calibrated_at == 100.0 + week for e in due.evaluators.evaluators)


async def test_a_generated_evaluator_changes_the_panels_version_so_cached_verdicts_go_stale(
) -> None:
    done = await step(feedback(24), judge(honest))
    built_in = [ReferenceEvaluator(), JudgeEvaluator(judge(honest), rubric=Rubric())]
    before = EvaluatorPanel(built_in).version
    after = EvaluatorPanel([*built_in, *done.members]).version
    assert before != after
    rule = done.evaluators.get("fm_no_ai_disclaimer")
    assert rule is not None
    other = replace(rule, spec=(("must_not_match", ("language model",)),))
    changed = mode_evaluator(other, None, judge(honest))
    assert changed is not None and changed.version != done.members[0].version
    assert EvaluatorPanel([*built_in, changed]).version not in (before, after)


async def test_a_judge_whose_scores_sit_high_is_measured_at_its_own_operating_point() -> None:
    def lenient(output: str) -> float:  # right order, wrong scale: never below 0.5
        return 0.7 if PHRASE in output else 0.95

    done = await step(feedback(24), judge(lenient))
    judge_ = done.evaluators.get("judge")
    assert judge_ is not None and judge_.status == "gating", judge_.reason
    assert judge_.point == pytest.approx(0.825)
    assert judge_.calibration.mcc == pytest.approx(1.0)
    rule = done.evaluators.get("fm_no_ai_disclaimer")
    assert rule is not None and rule.point == 1.0
