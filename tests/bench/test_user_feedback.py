"""The simulated users' side of the daemon loop benchmark: how they word complaints, how they
react, and the judge model's answers to gepad's own rubric and grading prompts (built here by
gepad's real code, so a change of those prompts that the world no longer reads shows up)."""

from __future__ import annotations

import random

import pytest

from bench.world import CATALOG, SEED_PROMPT, generate, make_user, respond
from bench.world.comments import compose, parse_comment, wording
from bench.world.judge import judge
from bench.world.reactions import MAX_COMPLAINTS, react
from bench.world.realistic_judge import applicable, read_grading_request
from bench.world.rubric import answer_extraction, describe, item_for, parse_item
from bench.world.vocab import Directive, parse_directive
from gepad.engine import ChatMessage, Example
from gepad.evaluators import JudgeEvaluator
from gepad.evaluators.rubric_update import parse_rubric_answer, rubric_messages
from gepad.feedback.event import FeedbackEvent
from gepad.llm import ScriptedLLM
from gepad.rubric import Rubric, RubricItem


@pytest.mark.parametrize("pref", CATALOG, ids=str)
def test_every_complaint_reads_back_and_is_never_a_prompt_rule(pref: Directive) -> None:
    rng = random.Random(0)
    for state_scope in (True, False):
        for _ in range(4):
            said = wording(pref, rng, state_scope)
            assert parse_directive(said) is None  # a leaked comment must not steer the task LM
            expected = pref if state_scope else pref.unscoped()
            assert parse_comment(compose([said])) == [expected]
    assert parse_item(describe(pref), "all requests") == pref


def test_reactions_accept_a_good_reply_and_name_at_most_two_violations() -> None:
    user = make_user(3)
    kinds = set()
    for ex in generate(3, "react", 40):
        reply = respond(SEED_PROMPT, ex, 3)
        reaction = react(user, ex, reply, 3)
        kinds.add(reaction.kind)
        verdict = judge(user, ex, reply.text)
        if not verdict.violated:
            assert reaction.kind == "acceptance" and not reaction.comment
            continue
        named = parse_comment(reaction.comment)
        assert 1 <= len(named) <= MAX_COMPLAINTS
        assert {p.unscoped() for p in named} <= {p.unscoped() for p in verdict.violated}
        if reaction.kind == "correction":
            assert not judge(user, ex, reaction.correction).violated
    assert kinds == {"acceptance", "rejection", "correction"}


def test_rubric_answers_keep_gepads_contract() -> None:
    events = [
        FeedbackEvent("e1", "u", "p", "rejection", output="x",
                      comment="No emojis please. Also, for billing questions, skip the greeting."),
        FeedbackEvent("e2", "u", "p", "correction", output="x", correction="y",
                      comment="Please drop the emojis."),
    ]
    current = [RubricItem("formal_tone", "This user wants a formal tone.", "all requests",
                          ("e0",))]
    messages = rubric_messages(current, events)
    assert messages[0].content.startswith("You maintain one user's rubric")
    items = parse_rubric_answer(answer_extraction(messages[1].content), {"e0", "e1", "e2"})
    assert [(i.name, i.scope, i.evidence) for i in items] == [
        ("formal_tone", "all requests", ("e0",)),
        ("no_emojis", "all requests", ("e1", "e2")),
        ("billing_no_greeting", "billing questions", ("e1",)),
    ]


def test_the_realistic_judge_reads_comments_and_rubric_from_gepads_grading_prompt() -> None:
    greeting = Directive("greeting", False, "billing")
    said = item_for(greeting, ("e1",))
    rubric = Rubric((RubricItem(said.name, said.description, said.scope, said.evidence),))
    judge_lm = JudgeEvaluator(ScriptedLLM([]), rubric=rubric)
    example = Example("x1", "train", (ChatMessage("user", "Why was I charged twice?"),),
                      notes=("Please keep it formal.",))
    prompt = judge_lm.messages(example, "Hi there! Your invoice shows the charge.")[1].content
    conversation, output, told = read_grading_request(prompt)
    assert conversation == "user: Why was I charged twice?"
    assert output == "Hi there! Your invoice shows the charge."
    assert told.comments == (Directive("tone", "formal"),)
    assert told.rubric == (greeting,)
    assert applicable(told, "billing") == [Directive("tone", "formal"), greeting]
    assert applicable(told, "code") == [Directive("tone", "formal")]
