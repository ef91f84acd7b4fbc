"""A judge that knows only what it is told: the preferences it can read in the example's own
comments and in the user's rubric items, never the user's hidden ones.

It grades the reply as the oracle would against that partial (and possibly mis-scoped) picture;
with nothing to go on it finds nothing to fault. Which request kind a request is, it knows, as a
real model infers it from the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bench.world.comments import parse_comment
from bench.world.dataset import WorldExample
from bench.world.judge import Judgement, grade
from bench.world.rubric import parse_item, quoted_blocks
from bench.world.vocab import Directive, Kind

_RUBRIC_LABEL = re.compile(r"^rubric item \d+: (\S+) \(applies to: (.*)\)$")
_COMMENT_LABEL = re.compile(r"^user comment \d+$")


@dataclass(frozen=True)
class Told:
    """What a grading request says about the user's preferences."""

    comments: tuple[Directive, ...] = ()  # from this example's own comments
    rubric: tuple[Directive, ...] = ()  # from the user's rubric items


def told_by_comments(comments: Sequence[str]) -> Told:
    return Told(comments=tuple(p for c in comments for p in parse_comment(c)))


def read_grading_request(user_message: str) -> tuple[str, str, Told]:
    """(the conversation's text, the output to grade, what the judge is told) from gepad's
    grading prompt."""
    conversation = output = ""
    comments: list[str] = []
    rubric: list[Directive] = []
    for label, body in quoted_blocks(user_message):
        if label == "conversation":
            conversation = body
        elif label == "output to grade":
            output = body
        elif _COMMENT_LABEL.match(label):
            comments.append(body)
        else:
            m = _RUBRIC_LABEL.match(label)
            pref = parse_item(body, m.group(2)) if m else None
            if pref is not None:
                rubric.append(pref)
    told = told_by_comments(comments)
    return conversation, output, Told(told.comments, tuple(rubric))


def applicable(told: Told, kind: Kind) -> list[Directive]:
    """One preference per feature: this example's comments first (they are about this very
    reply), then rubric items scoped to this kind, then rubric items for all requests."""
    ordered = [*told.comments,
               *(p for p in told.rubric if p.scope == kind),
               *(p for p in told.rubric if p.scope is None)]
    chosen: dict[str, Directive] = {}
    for pref in ordered:
        if pref.scope not in (None, kind) and pref not in told.comments:
            continue
        chosen.setdefault(pref.feature, pref)
    return list(chosen.values())


def judge_told(told: Told, example: WorldExample, text: str) -> Judgement:
    return grade(applicable(told, example.kind), example, text)
