"""The engine's value types: examples, candidates, evaluations and their keys."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

Split = Literal["train", "val", "gate"]
Origin = Literal["seed", "reflection", "merge", "human_edit"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class Example:
    """One per-user dataset row. Every text field is data written by users, never instructions."""

    id: str
    split: Split
    input: tuple[ChatMessage, ...]
    reference: str | None = None
    notes: tuple[str, ...] = ()
    label: float | None = None
    rejected_outputs: tuple[str, ...] = ()
    # Dimension hints from feedback events (e.g. "format", "tone"), used by the judge rubric.
    dimensions: tuple[str, ...] = ()

    @cached_property
    def fingerprint(self) -> str:
        """Hash of everything a verdict may depend on.

        Examples grow as events fold into them (a correction arrives after a rejection); a cached
        verdict made against the older version must not be reused, so the fingerprint is part of
        the evaluation key.
        """
        return stable_digest(
            {
                "input": [[m.role, m.content] for m in self.input],
                "reference": self.reference,
                "notes": list(self.notes),
                "label": self.label,
                "rejected": list(self.rejected_outputs),
                "dimensions": list(self.dimensions),
            }
        )[:16]


def content_hash(components: Mapping[str, str]) -> str:
    """Identity of a prompt's text, independent of where it came from."""
    return stable_digest(dict(sorted(components.items())))[:32]


def candidate_id(
    components: Mapping[str, str], parent_ids: tuple[str, ...] = (), origin: Origin = "seed"
) -> str:
    """Deterministic lineage-node id.

    Time is deliberately not an input: a resumed run must produce the same ids as an
    uninterrupted one even though the clock differs.
    """
    return stable_digest(
        {"content": content_hash(components), "parents": list(parent_ids), "origin": origin}
    )[:20]


@dataclass(frozen=True)
class Candidate:
    id: str
    components: Mapping[str, str]
    parent_ids: tuple[str, ...] = ()
    origin: Origin = "seed"
    rationale: str = ""
    created_at: float = 0.0

    @classmethod
    def create(
        cls,
        components: Mapping[str, str],
        parent_ids: tuple[str, ...] = (),
        origin: Origin = "seed",
        rationale: str = "",
        created_at: float = 0.0,
    ) -> Candidate:
        frozen = dict(sorted(components.items()))
        return cls(
            id=candidate_id(frozen, parent_ids, origin),
            components=frozen,
            parent_ids=parent_ids,
            origin=origin,
            rationale=rationale,
            created_at=created_at,
        )

    @cached_property
    def content_hash(self) -> str:
        return content_hash(self.components)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "components": dict(self.components),
            "parent_ids": list(self.parent_ids),
            "origin": self.origin,
            "rationale": self.rationale,
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Candidate:
        return cls(
            id=str(data["id"]),
            components=dict(data["components"]),
            parent_ids=tuple(data["parent_ids"]),
            origin=data["origin"],
            rationale=str(data["rationale"]),
            created_at=float(data["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class CallFailure:
    """A call that failed for good (after its retries): ``stage`` is "rollout" (task model and
    evaluators) or "reflection"; ``where`` names the candidate and example; ``cause`` is the
    error as the seam reported it."""

    stage: str
    where: str
    cause: str


@dataclass(frozen=True, slots=True)
class Usage:
    """What calls cost. `calls` counts LLM calls; metric calls are counted by the budget."""

    tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.tokens + other.tokens, self.cost_usd + other.cost_usd, self.calls + other.calls
        )


@dataclass(frozen=True, slots=True)
class EvalKey:
    """(candidate content hash, example id, evaluator version) plus the example's fingerprint.

    `evaluator_version` is the engine's scorer version: the evaluator's version joined with the
    task runner's, because a different task model produces different outputs.
    """

    content_hash: str
    example_id: str
    evaluator_version: str
    example_fingerprint: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The cached result of one candidate on one example (k rollouts averaged)."""

    key: EvalKey
    split: Split
    output: str
    scores: Mapping[str, float]
    aggregate: float
    feedback: str
    trace: Mapping[str, Any] = field(default_factory=dict)
    tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0
    rollouts: int = 1
    candidate_id: str = ""
    created_at: float = 0.0


def stable_digest(obj: object) -> str:
    """SHA-256 of the canonical JSON of ``obj``: the same for equal content, on any machine."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
