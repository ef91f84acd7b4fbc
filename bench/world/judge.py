"""The simulated judge: reads a reply's text, checks it against the user's hidden preferences, and
says in words what was wrong, the way an LLM judge or a user's comment would."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from bench.world.dataset import WorldExample
from bench.world.task_lm import (
    CASUAL_MARK,
    EMOJI,
    FORMAL_MARK,
    GREETING,
    SIGNOFF,
    TLDR,
    count_words,
)
from bench.world.users import User
from bench.world.vocab import DIMENSION, DIMENSIONS, KIND_NOUN, Directive, desire_phrase


@dataclass(frozen=True)
class Observed:
    """What a reply visibly does, detected from its text alone."""

    bullets: bool
    numbered: bool
    emoji: bool
    greeting: bool
    signoff: bool
    code_example: bool
    tone: str
    tldr: bool
    words: int


def observe(text: str) -> Observed:
    lines = text.splitlines()
    prose_lines = [ln for ln in lines if not ln.startswith("    ")]
    first = prose_lines[0] if prose_lines else ""
    second = prose_lines[1] if len(prose_lines) > 1 else ""
    formal, casual = FORMAL_MARK in text, CASUAL_MARK in text
    return Observed(
        bullets=any(ln.startswith("- ") for ln in lines),
        numbered=any(ln[:1].isdigit() and ". " in ln[:4] for ln in lines),
        emoji=EMOJI in text,
        greeting=first.startswith(GREETING),
        signoff=bool(prose_lines) and prose_lines[-1] == SIGNOFF,
        code_example=any(ln.startswith("    ") for ln in lines),
        tone="casual" if casual else "formal" if formal else "neutral",
        tldr=first.startswith(TLDR) or (first.startswith(GREETING) and second.startswith(TLDR)),
        words=count_words(text),
    )


def _score(pref: Directive, seen: Observed) -> float:
    """How well one reply meets one preference, in 0..1 (only length earns partial credit)."""
    f, v = pref.feature, pref.value
    if f == "max_words":
        limit = int(v)
        return 1.0 if seen.words <= limit else max(0.0, 1.0 - (seen.words - limit) / limit)
    if f == "bullets":
        ok = seen.bullets if v else not (seen.bullets or seen.numbered)
        return float(ok)
    actual = getattr(seen, f)
    return float(actual == v)


_BROKEN: dict[tuple[str, object], str] = {
    ("bullets", True): "was not in bullet points",
    ("bullets", False): "was formatted as a list",
    ("numbered", True): "had no numbered steps",
    ("emoji", False): "used emojis",
    ("emoji", True): "had no emoji",
    ("greeting", False): "opened with a greeting",
    ("greeting", True): "did not greet the user",
    ("signoff", True): "did not offer further help at the end",
    ("code_example", True): "had no code example",
    ("tone", "formal"): "was not formal",
    ("tone", "casual"): "was stiff rather than casual",
    ("tldr", True): "did not start with a TL;DR",
}


def explain(pref: Directive, seen: Observed, example: WorldExample) -> str:
    """One sentence naming what the reply did and what this user wants instead."""
    what = (
        f"had {seen.words} words"
        if pref.feature == "max_words"
        else _BROKEN[(pref.feature, pref.value)]
    )
    scope = f"for {KIND_NOUN[pref.scope]} questions " if pref.scope else ""
    return (
        f"The answer to this {KIND_NOUN[example.kind]} question {what}; "
        f"{scope}this user {desire_phrase(pref.feature, pref.value)}."
    )


@dataclass(frozen=True)
class Judgement:
    scores: dict[str, float]  # per dimension, 0..1
    aggregate: float
    feedback: str
    violated: tuple[Directive, ...]


def judge(
    user: User,
    example: WorldExample,
    text: str,
    misread_p: float = 0.0,
    rng: random.Random | None = None,
) -> Judgement:
    """The verdict on one reply. With ``misread_p`` the judge is the noisy LLM judge a real one
    is: it misreads each check (a pass for a fail, a shortfall for its complement) with that
    probability, drawn from ``rng``; without, it is the oracle the benchmarks call truth."""
    return grade(user.applicable(example.kind), example, text, misread_p, rng)


def grade(
    prefs: Sequence[Directive],
    example: WorldExample,
    text: str,
    misread_p: float = 0.0,
    rng: random.Random | None = None,
) -> Judgement:
    """Judge a reply against ``prefs`` (the preferences that apply to this request): the user's
    true ones for the oracle, or only those a judge was told about."""
    seen = observe(text)
    per_pref = [(p, _score(p, seen)) for p in prefs]
    if misread_p:
        if rng is None:
            raise ValueError("a noisy judge draws its misreadings from an rng it is given")
        per_pref = [(p, 1.0 - s if rng.random() < misread_p else s) for p, s in per_pref]
    scores: dict[str, float] = {}
    for dim in DIMENSIONS:
        vals = [s for p, s in per_pref if DIMENSION[p.feature] == dim]
        scores[dim] = sum(vals) / len(vals) if vals else 1.0
    aggregate = sum(s for _, s in per_pref) / len(per_pref) if per_pref else 1.0
    violated = tuple(p for p, s in per_pref if s < 1.0)
    if violated:
        feedback = " ".join(explain(p, seen, example) for p in violated)
    else:
        feedback = (
            f"The answer met everything this user cares about for a "
            f"{KIND_NOUN[example.kind]} question."
        )
    return Judgement(scores=scores, aggregate=aggregate, feedback=feedback, violated=violated)
