"""Deterministic checks from configuration: must/must-not patterns and a length limit."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from gepad.engine import Example, Verdict

from .verdicts import NOT_APPLICABLE


class RuleEvaluator:
    """Score = share of checks passed. Patterns are case-insensitive regular expressions."""

    def __init__(
        self,
        must_match: Sequence[str] = (),
        must_not_match: Sequence[str] = (),
        max_chars: int | None = None,
        *,
        name: str = "rules",
    ) -> None:
        self.name = name
        self._must = [(p, _compile(p)) for p in must_match]
        self._must_not = [(p, _compile(p)) for p in must_not_match]
        if max_chars is not None and max_chars < 1:
            raise ValueError("max_chars must be >= 1")
        self._max_chars = max_chars
        config = {"must": list(must_match), "not": list(must_not_match), "max": max_chars}
        digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:10]
        self._version = f"rules:{name}:{digest}"

    @property
    def version(self) -> str:
        return self._version

    async def evaluate(self, example: Example, output: str) -> Verdict:
        total = len(self._must) + len(self._must_not) + (self._max_chars is not None)
        if total == 0:
            return NOT_APPLICABLE
        failures: list[str] = []
        for pattern, rx in self._must:
            if not rx.search(output):
                failures.append(f"the output must match /{pattern}/ but does not")
        for pattern, rx in self._must_not:
            m = rx.search(output)
            if m:
                found = m.group(0)[:80]
                failures.append(f"the output must not match /{pattern}/ but contains {found!r}")
        if self._max_chars is not None and len(output) > self._max_chars:
            failures.append(
                f"the output is {len(output)} characters long; the limit is {self._max_chars}"
            )
        score = (total - len(failures)) / total
        feedback = "All rule checks pass." if not failures else "Rule failures: " + "; ".join(
            failures
        )
        return Verdict(scores={self.name: score}, aggregate=score, feedback=feedback)


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid rule pattern {pattern!r}: {exc}") from exc
