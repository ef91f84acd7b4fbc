from __future__ import annotations

from gepad.engine import CallFailure
from gepad.rounds.failures import FailureTally

DOWN = CallFailure("rollout", "c1 on e1", "LLMError: 503 down")
KEY = CallFailure("rollout", "c1 on e2", "LLMError: 401 bad key")


def test_a_stage_that_never_worked_fails_the_round_naming_first_and_most_frequent_cause() -> None:
    tally = FailureTally()
    tally.add([DOWN, KEY, KEY])
    assert tally.round_failure() == (
        "failed: all 3 rollout calls failed; first: LLMError: 503 down; "
        "most frequent (2×): LLMError: 401 bad key")
    tally.add([CallFailure("reflection", "", "LLMError: 503 down")])
    # The first cause is also (tied) the most frequent: named once.
    assert tally.round_failure() == (
        "failed: all 3 rollout calls and all 1 reflection calls failed; LLMError: 503 down (2×)")

def test_failures_among_successes_are_only_counted() -> None:
    tally = FailureTally()
    assert (tally.round_failure(), tally.note()) == (None, "")
    tally.add([KEY])
    tally.worked("rollout", 5)
    assert tally.round_failure() is None
    assert tally.note() == " (1 calls failed; LLMError: 401 bad key (1×))"
