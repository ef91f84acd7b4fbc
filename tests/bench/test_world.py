"""The benchmark's ground truth: the simulated world is deterministic, its judge names what was
violated, and its reflection LM turns that feedback into rules the task LM obeys."""

from __future__ import annotations

import random

import pytest

from bench.world import (
    CATALOG,
    SEED_PROMPT,
    Directive,
    World,
    judge,
    lessons,
    make_splits,
    make_stream,
    make_user,
    parse_directives,
    reflect,
    respond,
)
from bench.world.judge import explain, observe
from bench.world.vocab import desire_phrase


def _oracle(user_seed: int) -> str:
    user = make_user(user_seed)
    return "\n".join([SEED_PROMPT, *(f"- {p.text()}" for p in user.preferences)])


def test_world_is_deterministic() -> None:
    a, b = make_splits(7, 10, 10, 10), make_splits(7, 10, 10, 10)
    assert a == b
    assert make_user(7) == make_user(7)
    assert make_stream(7, (4, 4), (2, 2), 3) == make_stream(7, (4, 4), (2, 2), 3)
    user = make_user(7)
    for ex in a.test:
        r1, r2 = respond(_oracle(7), ex, seed=7), respond(_oracle(7), ex, seed=7)
        assert r1 == r2
        assert judge(user, ex, r1.text) == judge(user, ex, r2.text)
    prompt = "I provided these instructions:\n```\n" + SEED_PROMPT + "\n```\n" + "x" * 10
    assert reflect(prompt, seed=3) == reflect(prompt, seed=3)


def test_different_seeds_give_different_worlds() -> None:
    assert make_splits(1, 10, 0, 0).train != make_splits(2, 10, 0, 0).train
    assert {make_user(s).preferences for s in range(6)}.__len__() > 1


@pytest.mark.parametrize("pref", CATALOG, ids=lambda d: d.text())
def test_feedback_names_the_violated_preference(pref: Directive) -> None:
    """Search the world for a reply that breaks ``pref`` and check the judge's words for it."""
    user = make_user(0)
    user = type(user)(id="u", preferences=(pref,))
    kinds = [pref.scope] if pref.scope else ["code", "billing", "howto", "chitchat"]
    examples = [ex for ex in make_splits(11, 200, 0, 0).train if ex.kind in kinds]
    for ex in examples:
        verdict = judge(user, ex, respond(SEED_PROMPT, ex, seed=11).text)
        if verdict.violated:
            assert verdict.violated == (pref,)
            assert desire_phrase(pref.feature, pref.value) in verdict.feedback
            assert verdict.aggregate < 1.0
            # The reflection LM reads exactly this lesson back out of the feedback.
            assert lessons(verdict.feedback) == [pref]
            return
    pytest.fail(f"no reply in the sample violated {pref.text()}")


def test_judge_feedback_example_in_words() -> None:
    user = type(make_user(0))(id="u", preferences=(Directive("emoji", False),))
    ex = next(e for e in make_splits(1, 50, 0, 0).train if e.kind == "billing")
    verdict = judge(user, ex, "Your invoice shows the charge 🙂")
    assert verdict.feedback == (
        "The answer to this billing question used emojis; this user never wants emojis."
    )
    assert verdict.scores["tone"] == 0.0 and verdict.aggregate == 0.0


def test_scoped_feedback_keeps_its_condition() -> None:
    pref = Directive("max_words", 50, "billing")
    ex = next(e for e in make_splits(1, 50, 0, 0).train if e.kind == "billing")
    text = " ".join(["word"] * 80)
    sentence = explain(pref, observe(text), ex)
    assert "had 80 words" in sentence and "for billing questions this user" in sentence
    assert lessons(sentence) == [pref]


def test_rules_in_the_prompt_raise_the_score() -> None:
    user, splits = make_user(4), make_splits(4, 0, 0, 120)
    world = World(user, seed=4)
    seed_score = world.true_score(SEED_PROMPT, splits.test)
    oracle_score = world.true_score(_oracle(4), splits.test)
    assert oracle_score > seed_score + 0.3
    assert world.counters.metric_calls == 0  # ground truth is not billed as metric calls


def test_task_lm_ignores_feedback_sentences() -> None:
    feedback = "The answer to this code question used emojis; this user never wants emojis."
    assert parse_directives(feedback) == []
    assert parse_directives(
        "- Never use emojis.\n- For billing questions, stay under 50 words."
    ) == [
        Directive("emoji", False),
        Directive("max_words", 50, "billing"),
    ]


def test_reflection_adds_rules_and_sometimes_drops_the_condition() -> None:
    feedback = (
        "The answer to this billing question was formatted as a list; for billing questions "
        "this user wants plain prose without bullet points."
    )
    outcomes = set()
    for i in range(60):
        prompt = f"Instructions:\n```\n{SEED_PROMPT}\n```\nExample {i}\nFeedback: {feedback}"
        reply = reflect(prompt, seed=0)
        outcomes.update(parse_directives(reply.text))
    assert Directive("bullets", False, "billing") in outcomes
    assert Directive("bullets", False) in outcomes  # the scope was lost at least once


def test_reflection_is_sometimes_truncated() -> None:
    rng = random.Random(0)
    replies = [reflect(f"```\n{SEED_PROMPT}\n```\n{rng.random()}", seed=1) for _ in range(300)]
    cut = [r for r in replies if r.truncated]
    assert 0 < len(cut) < 40
    assert all(not r.text.rstrip().endswith("```") for r in cut)


def test_the_noisy_judge_misreads_checks_at_its_rate_and_the_oracle_never() -> None:
    user = make_user(3)
    exs = make_splits(3, 0, 0, 300).test
    texts = [respond(SEED_PROMPT, ex, 3).text for ex in exs]
    oracle = [judge(user, ex, t) for ex, t in zip(exs, texts, strict=True)]
    assert [judge(user, ex, t) for ex, t in zip(exs, texts, strict=True)] == oracle
    rng = random.Random(0)
    noisy = [judge(user, ex, t, 0.1, rng) for ex, t in zip(exs, texts, strict=True)]
    changed = sum(n.aggregate != o.aggregate for n, o in zip(noisy, oracle, strict=True))
    # Three to five checks per request, each misread one time in ten.
    assert 0.2 * len(exs) < changed < 0.5 * len(exs)
    again = random.Random(0)
    assert [judge(user, ex, t, 0.1, again) for ex, t in zip(exs, texts, strict=True)] == noisy
    with pytest.raises(ValueError, match="rng"):
        judge(user, exs[0], texts[0], 0.1)
