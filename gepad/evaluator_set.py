"""The evaluators gepad tracks for one (user, program): each with its kind, version, calibration
against the user's labels and the status that earned, the failure modes they cover, and a log
of what changed (generated, re-calibrated, demoted for drift). Kept whole per (user, program),
like the rubric; `gepad evaluators` and `gepad report` show it. How it is made:
gepad/rounds/calibration_step.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from gepad.evaluators.calibration import DEFAULT_POINT, Calibration, Status

__all__ = ["EvaluatorSet", "LogEntry", "ModeSummary", "TrackedEvaluator"]

Kind = Literal["rule", "reference", "judge"]
Origin = Literal["configured", "built-in", "generated"]
MAX_LOG = 50


@dataclass(frozen=True, slots=True)
class TrackedEvaluator:
    name: str  # the dimension it scores in the panel
    kind: Kind
    origin: Origin
    failure_mode: str  # "" for one that grades everything the user asked for
    version: str  # the evaluator's version when it was calibrated
    status: Status
    reason: str
    calibration: Calibration = field(default_factory=Calibration)
    calibrated_at: float = 0.0
    labels_seen: int = 0  # labels that existed (in arrival order) when it was calibrated
    spec: tuple[tuple[str, tuple[str, ...]], ...] = ()  # a rule's checks: (what, values)
    point: float = DEFAULT_POINT  # it says "fails" below this score (chosen at calibration)

    def spec_dict(self) -> dict[str, tuple[str, ...]]:
        return dict(self.spec)


@dataclass(frozen=True, slots=True)
class ModeSummary:
    name: str
    description: str
    scope: str
    evidence: tuple[str, ...]
    failures: int  # human-labelled failing outputs
    corrections: int


@dataclass(frozen=True, slots=True)
class LogEntry:
    at: float
    text: str


@dataclass(frozen=True, slots=True)
class EvaluatorSet:
    evaluators: tuple[TrackedEvaluator, ...] = ()
    modes: tuple[ModeSummary, ...] = ()
    log: tuple[LogEntry, ...] = ()
    passes: int = 0  # outputs people accepted (they pass every mode)
    updated_at: float = 0.0

    def get(self, name: str) -> TrackedEvaluator | None:
        return next((e for e in self.evaluators if e.name == name), None)

    def covering(self, mode: str) -> list[TrackedEvaluator]:
        return [e for e in self.evaluators if e.failure_mode == mode]

    @property
    def coverage(self) -> tuple[int, int]:
        """(failure modes with a gating (calibrated, trusted) evaluator, failure modes tracked)."""
        covered = {e.failure_mode for e in self.evaluators
                   if e.failure_mode and e.status == "gating"}
        return len(covered & {m.name for m in self.modes}), len(self.modes)

    def with_log(self, at: float, *texts: str) -> EvaluatorSet:
        entries = self.log + tuple(LogEntry(at, t) for t in texts)
        return EvaluatorSet(self.evaluators, self.modes, entries[-MAX_LOG:], self.passes,
                            self.updated_at)

    def to_json(self) -> str:
        return json.dumps({
            "evaluators": [{
                "name": e.name, "kind": e.kind, "origin": e.origin,
                "failure_mode": e.failure_mode, "version": e.version, "status": e.status,
                "reason": e.reason, "calibration": e.calibration.to_dict(),
                "calibrated_at": e.calibrated_at, "labels_seen": e.labels_seen,
                "spec": [[k, list(v)] for k, v in e.spec], "point": e.point,
            } for e in self.evaluators],
            "modes": [{"name": m.name, "description": m.description, "scope": m.scope,
                       "evidence": list(m.evidence), "failures": m.failures,
                       "corrections": m.corrections} for m in self.modes],
            "log": [[entry.at, entry.text] for entry in self.log],
            "passes": self.passes, "updated_at": self.updated_at,
        }, ensure_ascii=False)

    @staticmethod
    def from_json(text: str) -> EvaluatorSet:
        data = json.loads(text)
        return EvaluatorSet(
            tuple(_evaluator(e) for e in data["evaluators"]),
            tuple(ModeSummary(m["name"], m["description"], m["scope"], tuple(m["evidence"]),
                              int(m["failures"]), int(m["corrections"]))
                  for m in data["modes"]),
            tuple(LogEntry(float(at), str(t)) for at, t in data["log"]),
            int(data["passes"]), float(data["updated_at"]),
        )


def _evaluator(e: dict[str, Any]) -> TrackedEvaluator:
    c = e["calibration"]
    return TrackedEvaluator(
        e["name"], cast(Kind, e["kind"]), cast(Origin, e["origin"]), e["failure_mode"],
        e["version"], cast(Status, e["status"]), e["reason"],
        Calibration(int(c["tp"]), int(c["fp"]), int(c["tn"]), int(c["fn"])),
        float(e["calibrated_at"]), int(e["labels_seen"]),
        tuple((str(k), tuple(str(x) for x in v)) for k, v in e["spec"]),
        float(e.get("point", DEFAULT_POINT)),
    )
