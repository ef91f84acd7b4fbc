"""A simulated user's reaction to one reply: accept it, or reject or correct it with a comment.

The user knows their own preferences (the oracle judge's verdict is how they feel about the
reply) but writes like a person: a comment names at most two of the things that were wrong,
in the user's own words (``comments``), and mentions the kind of request only some of the time.
A correction is the reply rewritten the way the user wants it.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Literal

from bench.world.comments import compose, wording
from bench.world.dataset import WorldExample
from bench.world.judge import judge
from bench.world.task_lm import Style, TaskReply, render
from bench.world.users import User

ReactionKind = Literal["acceptance", "rejection", "correction"]

MAX_COMPLAINTS = 2


@dataclass(frozen=True)
class Habits:
    """How a user gives feedback (not what they want)."""

    correct_p: float = 0.5  # of unhappy reactions, the share that are corrections, not rejections
    state_scope_p: float = 0.7  # chance a complaint about a scoped preference names its scope
    two_complaints_p: float = 0.6  # chance of naming a second problem when there is one


@dataclass(frozen=True)
class Reaction:
    kind: ReactionKind
    comment: str = ""
    correction: str = ""
    # How the user felt: the oracle's score of the reply (for the record, never sent).
    score: float = 1.0


def corrected(style: Style, user: User, example: WorldExample) -> str:
    """The reply as the user would have written it: every applicable preference met."""
    choices = asdict(style)
    for pref in user.applicable(example.kind):
        if pref.feature == "max_words":
            choices["words"] = min(style.words, int(pref.value) - 5)
        elif pref.feature == "bullets":
            choices["bullets"] = bool(pref.value)
            # Plain prose means no list of any kind.
            choices["numbered"] = style.numbered and bool(pref.value)
        else:
            choices[pref.feature] = pref.value
    return render(Style(**choices), example)


def react(user: User, example: WorldExample, reply: TaskReply, seed: int,
          habits: Habits | None = None) -> Reaction:
    """Deterministic in (seed, user, example, reply text)."""
    habits = habits or Habits()
    verdict = judge(user, example, reply.text)
    if not verdict.violated:
        return Reaction("acceptance", score=verdict.aggregate)
    rng = random.Random(f"react:{seed}:{user.id}:{example.id}:{reply.text}")
    problems = list(verdict.violated)
    rng.shuffle(problems)
    n = 2 if len(problems) > 1 and rng.random() < habits.two_complaints_p else 1
    complaints = [wording(p, rng, rng.random() < habits.state_scope_p)
                  for p in problems[:min(n, MAX_COMPLAINTS)]]
    comment = compose(complaints)
    if rng.random() < habits.correct_p:
        return Reaction("correction", comment, corrected(reply.style, user, example),
                        verdict.aggregate)
    return Reaction("rejection", comment, score=verdict.aggregate)
