"""The evaluator panel: several evaluators combined into the one the engine sees."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from gepad.engine import EvaluationError, Evaluator, Example, Usage, Verdict

from .verdicts import is_applicable


@dataclass(frozen=True, slots=True)
class Member:
    evaluator: Evaluator
    weight: float = 1.0
    label: str = ""


class EvaluatorPanel:
    """Aggregate = weighted mean of the applicable members' aggregates; scores are the union
    of the members' dimensions (a name reported by two members keeps the mean). The version
    hashes every member's version and weight, so changing any judge model or rule changes it
    and old cached verdicts stop matching.

    Members run one after another: the engine already runs many rollouts concurrently.
    """

    def __init__(self, members: Sequence[Member | Evaluator]) -> None:
        self._members = [m if isinstance(m, Member) else Member(m) for m in members]
        if not self._members:
            raise ValueError("a panel needs at least one evaluator")
        for m in self._members:
            if m.weight <= 0:
                raise ValueError("panel weights must be positive")
        spec = "|".join(f"{m.evaluator.version}*{m.weight!r}" for m in self._members)
        self._version = "panel:" + hashlib.sha256(spec.encode()).hexdigest()[:12]

    @property
    def version(self) -> str:
        return self._version

    async def evaluate(self, example: Example, output: str) -> Verdict:
        usage = Usage()
        weighted = 0.0
        total_weight = 0.0
        scores: dict[str, list[float]] = {}
        feedback: list[str] = []
        for m in self._members:
            try:
                verdict = await m.evaluator.evaluate(example, output)
            except EvaluationError as exc:
                raise EvaluationError(str(exc), usage + exc.usage) from exc
            usage = usage + verdict.usage
            if not is_applicable(verdict):
                continue
            weighted += m.weight * verdict.aggregate
            total_weight += m.weight
            for name, value in verdict.scores.items():
                scores.setdefault(name, []).append(value)
            if verdict.feedback:
                label = m.label or ",".join(sorted(verdict.scores))
                feedback.append(f"[{label}] {verdict.feedback}")
        if total_weight == 0:
            raise EvaluationError("no evaluator in the panel applies to this example", usage)
        return Verdict(
            scores={name: sum(v) / len(v) for name, v in sorted(scores.items())},
            aggregate=weighted / total_weight,
            feedback="\n".join(feedback),
            usage=usage,
        )
