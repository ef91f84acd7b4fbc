"""The calls that failed during one round, and whether that means the round failed.

A round fails when a whole stage never worked: no rollout produced a score, or no reflection call
got an answer. Then its run says so, with the first cause and the most frequent one, instead of
ending "succeeded" with nothing learned. Some failures among successes only get counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from gepad.engine import CallFailure

__all__ = ["FailureTally"]


class FailureTally:
    def __init__(self) -> None:
        self._causes: Counter[str] = Counter()
        self._stages: Counter[str] = Counter()
        self._first: CallFailure | None = None
        self._worked: Counter[str] = Counter()

    def add(self, failures: Iterable[CallFailure]) -> None:
        for failure in failures:
            self._first = self._first or failure
            self._causes[failure.cause] += 1
            self._stages[failure.stage] += 1

    def worked(self, stage: str, calls: int) -> None:
        """``calls`` of ``stage`` succeeded (scores made, reflection answers received)."""
        self._worked[stage] += calls

    @property
    def count(self) -> int:
        return self._causes.total()

    def _causes_text(self) -> str:
        assert self._first is not None
        cause, times = self._causes.most_common(1)[0]
        if cause == self._first.cause:
            return f"{self._first.cause} ({times}×)"
        return f"first: {self._first.cause}; most frequent ({times}×): {cause}"

    def round_failure(self) -> str | None:
        """Why the round failed, or None if every stage that was tried worked at least once."""
        broken = [s for s in ("rollout", "reflection") if self._stages[s] and not self._worked[s]]
        if not broken:
            return None
        what = " and ".join(f"all {self._stages[s]} {s} calls" for s in broken)
        return f"failed: {what} failed; {self._causes_text()}"

    def note(self) -> str:
        """For a round that did not fail: how many calls failed anyway, if any."""
        if not self.count:
            return ""
        return f" ({self.count} calls failed; {self._causes_text()})"
