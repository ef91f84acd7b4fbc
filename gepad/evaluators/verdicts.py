"""Shared verdict conventions of the evaluator panel."""

from __future__ import annotations

from gepad.engine import Verdict

# An evaluator that has nothing to say about an example (a reference check on an example with no
# correction) returns a verdict with no scores; the panel leaves it out of the aggregate.
NOT_APPLICABLE = Verdict(scores={}, aggregate=0.0, feedback="")


def is_applicable(verdict: Verdict) -> bool:
    return bool(verdict.scores)
