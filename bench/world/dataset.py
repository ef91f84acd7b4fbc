"""Requests a user sends, split into train / val / test, and a day-by-day stream of them."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.world.vocab import KINDS, Kind

_TEMPLATES: dict[Kind, tuple[str, ...]] = {
    "code": (
        "How do I {verb} a {thing} in {lang}?",
        "Why does my {lang} code fail when I {verb} a {thing}?",
        "What is the fastest way to {verb} a {thing} in {lang}?",
    ),
    "billing": (
        "Why was I charged twice for my {plan} plan?",
        "Can I get a refund for the {plan} plan I bought {when}?",
        "How do I change the card on my {plan} subscription?",
    ),
    "howto": (
        "How do I set up the {tool} on a new laptop?",
        "What are the steps to back up my {tool} settings?",
        "How can I move my {tool} projects to another account?",
    ),
    "chitchat": (
        "What do you think about {topic}?",
        "Any fun facts about {topic}?",
        "I'm bored, tell me something about {topic}.",
    ),
}
_SLOTS: dict[str, tuple[str, ...]] = {
    "verb": ("reverse", "sort", "merge", "parse", "copy", "filter"),
    "thing": ("list", "dictionary", "string", "JSON file", "date", "CSV table"),
    "lang": ("Python", "Go", "TypeScript", "Rust"),
    "plan": ("monthly", "annual", "team", "student"),
    "when": ("yesterday", "last week", "in March"),
    "tool": ("editor", "sync client", "CLI", "mobile app"),
    "topic": ("octopuses", "the moon", "coffee", "old maps", "chess"),
}


@dataclass(frozen=True)
class WorldExample:
    """One request of the user. ``kind`` is what a real model would infer from the text."""

    id: str
    kind: Kind
    request: str
    day: int = 0


def _request(rng: random.Random, kind: Kind) -> str:
    template = rng.choice(_TEMPLATES[kind])
    return template.format(**{k: rng.choice(v) for k, v in _SLOTS.items()})


def generate(
    seed: int,
    prefix: str,
    n: int,
    kind_weights: Mapping[Kind, float] | None = None,
    day: int = 0,
) -> list[WorldExample]:
    """``n`` requests with ids ``{prefix}-{i}``; deterministic in (seed, prefix, n, weights)."""
    rng = random.Random(f"data:{seed}:{prefix}")
    weights = kind_weights or dict.fromkeys(KINDS, 1.0)
    kinds: list[Kind] = [k for k in KINDS if weights.get(k, 0.0) > 0]
    probs = [weights[k] for k in kinds]
    out = []
    for i in range(n):
        kind = rng.choices(kinds, probs)[0]
        out.append(
            WorldExample(id=f"{prefix}-{i:04d}", kind=kind, request=_request(rng, kind), day=day)
        )
    return out


@dataclass(frozen=True)
class Splits:
    train: list[WorldExample]
    val: list[WorldExample]
    test: list[WorldExample]


def make_splits(seed: int, n_train: int, n_val: int, n_test: int) -> Splits:
    return Splits(
        train=generate(seed, "train", n_train),
        val=generate(seed, "val", n_val),
        test=generate(seed, "test", n_test),
    )


@dataclass(frozen=True)
class Day:
    """What arrives on one day of the incremental scenario."""

    day: int
    train: list[WorldExample]
    val: list[WorldExample]


def make_stream(
    seed: int,
    first_day: tuple[int, int],
    per_day: tuple[int, int],
    days: int,
    late_kinds: Sequence[Kind] = ("howto",),
    late_from: int = 3,
) -> list[Day]:
    """Feedback arriving day by day: (train, val) counts on day 0, then per later day.

    Kinds in ``late_kinds`` only show up from day ``late_from`` on, so later days bring preferences
    the earlier data never revealed; that is what makes incremental rounds worth running.
    """
    stream = []
    for d in range(days):
        weights = {k: (0.0 if k in late_kinds and d < late_from else 1.0) for k in KINDS}
        if d >= late_from:
            for k in late_kinds:
                weights[k] = 2.0  # the new kind is what this user talks about lately
        n_train, n_val = first_day if d == 0 else per_day
        stream.append(
            Day(
                day=d,
                train=generate(seed, f"d{d}-train", n_train, weights, day=d),
                val=generate(seed, f"d{d}-val", n_val, weights, day=d),
            )
        )
    return stream
