"""Simulated users: each has hidden preferences, some conditional on the request kind and some
pulling in opposite directions across kinds (bullet points for code, prose for billing)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.world.vocab import Directive, Kind

# Everything a user may care about. A preference is a Directive the user wants obeyed; the optimizer
# never sees this list, only the judge's verdicts.
CATALOG: tuple[Directive, ...] = (
    Directive("emoji", False),
    Directive("bullets", True, "code"),
    Directive("bullets", False, "billing"),
    Directive("max_words", 50, "billing"),
    Directive("greeting", False),
    Directive("greeting", True, "chitchat"),
    Directive("code_example", True, "code"),
    Directive("tone", "formal", "billing"),
    Directive("tone", "casual", "chitchat"),
    Directive("tldr", True, "howto"),
    Directive("numbered", True, "howto"),
    Directive("signoff", True),
    Directive("max_words", 80, "chitchat"),
    Directive("emoji", True, "chitchat"),
    Directive("tone", "formal"),
)

# Pairs that make a user's taste depend on the kind of request; every user gets one, so a prompt
# that drops a rule's condition always costs something somewhere.
_CROSS_KIND_PAIRS: tuple[tuple[Directive, Directive], ...] = (
    (Directive("bullets", True, "code"), Directive("bullets", False, "billing")),
    (Directive("tone", "formal", "billing"), Directive("tone", "casual", "chitchat")),
)


def _conflicts(a: Directive, b: Directive) -> bool:
    """Two preferences conflict if they would both apply to one request and disagree (or repeat)."""
    if a.feature != b.feature:
        return False
    return a.scope is None or b.scope is None or a.scope == b.scope


@dataclass(frozen=True)
class User:
    id: str
    preferences: tuple[Directive, ...]

    def applicable(self, kind: Kind) -> tuple[Directive, ...]:
        return tuple(p for p in self.preferences if p.scope is None or p.scope == kind)


def make_user(seed: int, n_preferences: int = 7, user_id: str | None = None) -> User:
    rng = random.Random(f"user:{seed}")
    chosen: list[Directive] = list(rng.choice(_CROSS_KIND_PAIRS))
    pool = [p for p in CATALOG if p not in chosen]
    rng.shuffle(pool)
    for pref in pool:
        if len(chosen) >= n_preferences:
            break
        if not any(_conflicts(pref, c) for c in chosen):
            chosen.append(pref)
    return User(id=user_id or f"user{seed}", preferences=tuple(chosen))
