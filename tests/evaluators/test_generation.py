"""Generating an evaluator for a failure mode: the rule contract, and a rule that is kept only
when it agrees with the labels it was derived from."""

from __future__ import annotations

import json

import pytest

from gepad.evaluators import ContractError
from gepad.evaluators.calibration import Thresholds
from gepad.evaluators.generation import RuleSpec, parse_rule_answer, propose, rule_flags
from gepad.failure_modes import FailureMode, Labelled
from gepad.feedback.event import FeedbackEvent
from gepad.llm import ScriptedLLM

pytestmark = pytest.mark.anyio


def labelled(n: int, *, fails: bool, output: str, correction: str = "") -> list[Labelled]:
    prefix = "f" if fails else "p"
    return [Labelled(FeedbackEvent(f"{prefix}{i}", "alice", "bot",
                                   "rejection" if fails else "acceptance",
                                   output=output.format(i=i), correction=correction),
                     fails, i) for i in range(n)]


FAILING = labelled(16, fails=True, output="Sure! As an AI language model, answer {i}.")
PASSING = labelled(16, fails=False, output="Answer {i}.")
MODE = FailureMode("no_ai_disclaimer", "This user does not want 'as an AI language model'.",
                   "all requests", tuple(f.event.event_id for f in FAILING), tuple(FAILING), 0)


def test_the_rule_contract_is_strict() -> None:
    assert parse_rule_answer('{"kind": "judge"}') is None
    assert parse_rule_answer('{"kind": "rule", "must_not_match": ["as an AI"]}') == RuleSpec(
        (), ("as an AI",), None)
    for bad in ('{"kind": "rule"}', '{"kind": "maybe"}',
                '{"kind": "rule", "must_not_match": ["("]}',
                '{"kind": "rule", "max_chars": true}',
                '{"kind": "rule", "must_match": "x"}',
                '{"kind": "rule", "must_match": ["a", "b", "c", "d", "e", "f"]}',
                'Sure: {"kind": "judge"}'):
        with pytest.raises(ContractError):
            parse_rule_answer(bad)


async def test_a_generated_rule_agrees_with_the_labels_it_was_derived_from() -> None:
    llm = ScriptedLLM([json.dumps({"kind": "rule", "must_not_match": ["as an AI language model"],
                                   "must_match": [], "max_chars": None})])
    proposal = await propose(llm, MODE, PASSING, Thresholds())
    assert proposal.kind == "rule" and proposal.rule is not None
    derived = [x for x in (*FAILING, *PASSING) if not x.held_out]
    flags = await rule_flags(proposal.rule.evaluator("fm"), derived)
    assert flags == [x.fails for x in derived]
    assert proposal.derivation is not None and proposal.derivation.mcc == pytest.approx(1.0)
    # Only the derivation slice was shown: the held-out outputs are for calibration.
    shown = llm.requests[0][1].content
    assert all(x.event.output not in shown for x in (*FAILING, *PASSING) if x.held_out)


async def test_a_rule_that_disagrees_with_its_labels_is_not_kept() -> None:
    llm = ScriptedLLM([json.dumps({"kind": "rule", "must_not_match": ["answer"]})])
    proposal = await propose(llm, MODE, PASSING, Thresholds())
    assert proposal.kind == "judge" and proposal.rule is None
    assert "disagrees with the labels it was derived from" in proposal.why


async def test_a_mode_that_needs_judgement_gets_a_judge_or_a_reference_check() -> None:
    judge = await propose(ScriptedLLM(['{"kind": "judge"}']), MODE, PASSING, Thresholds())
    assert judge.kind == "judge"
    corrected = labelled(12, fails=True, output="long answer {i}", correction="short")
    mode = FailureMode("brief", "short", "all requests", (), tuple(corrected), 12)
    reference = await propose(ScriptedLLM(['{"kind": "judge"}']), mode, PASSING, Thresholds())
    assert reference.kind == "reference"
    broken = await propose(ScriptedLLM(["not json"]), MODE, PASSING, Thresholds())
    assert broken.kind == "judge" and "broke its answer contract" in broken.why
