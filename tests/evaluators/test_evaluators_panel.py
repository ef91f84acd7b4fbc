from __future__ import annotations

import pytest

from gepad.engine import ChatMessage, EvaluationError, Example
from gepad.evaluators import (
    EvaluatorPanel,
    JudgeEvaluator,
    Member,
    ReferenceEvaluator,
    RuleEvaluator,
    token_f1,
)
from gepad.llm import ScriptedLLM

pytestmark = pytest.mark.anyio


def ex(reference: str | None = "The budget was approved on Monday.", **kw: object) -> Example:
    q = (ChatMessage("user", "q"),)
    return Example(id="e", split="val", input=q, reference=reference, **kw)  # type: ignore[arg-type]


def test_token_f1() -> None:
    assert token_f1("The budget, approved!", "the BUDGET approved") == 1.0
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0
    assert 0 < token_f1("budget approved Tuesday", "budget approved Monday") < 1


async def test_reference_scores_and_explains_the_difference() -> None:
    v = await ReferenceEvaluator().evaluate(ex(), "The budget was rejected on Monday.")
    assert 0.5 < v.aggregate < 1.0
    assert "'approved' where the output says 'rejected'" in v.feedback
    exact = await ReferenceEvaluator().evaluate(ex(), "the budget was approved on monday")
    assert exact.aggregate == 1.0 and "matches" in exact.feedback
    assert (await ReferenceEvaluator().evaluate(ex(None), "x")).scores == {}
    rej = await ReferenceEvaluator().evaluate(ex(rejected_outputs=("Nope.",)), "nope")
    assert rej.aggregate == 0.0


async def test_rules() -> None:
    rules = RuleEvaluator(must_match=[r"^\w"], must_not_match=[r"as an ai"], max_chars=20)
    good = await rules.evaluate(ex(), "Fine answer")
    assert good.aggregate == 1.0
    bad = await rules.evaluate(ex(), " As an AI model I cannot say that")
    assert bad.aggregate == 0.0
    assert "must match" in bad.feedback and "'As an AI'" in bad.feedback
    assert "limit is 20" in bad.feedback
    with pytest.raises(ValueError, match="invalid rule pattern"):
        RuleEvaluator(must_match=["("])


async def test_panel_combines_applicable_members_and_versions_change() -> None:
    judge = JudgeEvaluator(ScriptedLLM(['{"score": 0.5, "feedback": "meh"}'], version="j1"))
    panel = EvaluatorPanel(
        [Member(RuleEvaluator(max_chars=100), 1.0), Member(ReferenceEvaluator(), 2.0), judge]
    )
    v = await panel.evaluate(ex(), "The budget was approved on Monday.")
    assert set(v.scores) == {"rules", "reference", "judge"}
    assert v.aggregate == pytest.approx((1.0 + 2 * 1.0 + 0.5) / 4)
    assert "[judge] meh" in v.feedback and v.usage.calls == 1
    no_ref = await panel.evaluate(ex(None), "x")
    assert set(no_ref.scores) == {"rules", "judge"}
    assert no_ref.aggregate == pytest.approx((1.0 + 0.5) / 2)
    other_judge = JudgeEvaluator(ScriptedLLM(["{}"], version="j2"))
    assert (
        EvaluatorPanel([RuleEvaluator(max_chars=100), ReferenceEvaluator(), other_judge]).version
        != panel.version
    )
    assert EvaluatorPanel([RuleEvaluator(max_chars=99)]).version != EvaluatorPanel(
        [RuleEvaluator(max_chars=100)]
    ).version


async def test_panel_with_nothing_applicable_is_an_error_not_a_guess() -> None:
    panel = EvaluatorPanel([ReferenceEvaluator()])
    with pytest.raises(EvaluationError):
        await panel.evaluate(ex(None), "x")


async def test_panel_propagates_judge_errors_with_usage() -> None:
    judge = JudgeEvaluator(ScriptedLLM(["bad"]), retries=1)
    panel = EvaluatorPanel([RuleEvaluator(max_chars=5), judge])
    with pytest.raises(EvaluationError) as info:
        await panel.evaluate(ex(), "x")
    assert info.value.usage.calls == 2
