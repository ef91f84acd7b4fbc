"""The user's rubric as gepad keeps it: what one user asked for across all their feedback, as
named items with their evidence (the ids of the events that stated them), per (user, program).
The judge grades every example against it; the reflection LM reads it; `gepad rubric` shows it.
How items are extracted: gepad/evaluators/rubric_update.py."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

__all__ = ["Rubric", "RubricItem"]


@dataclass(frozen=True, slots=True)
class RubricItem:
    name: str
    description: str
    scope: str  # "all requests", or the kind of request the user said it applies to
    evidence: tuple[str, ...]  # ids of the events that stated it

    def line(self) -> str:
        """How the judge and the reflection LM see the item."""
        return f"{self.name} (applies to: {self.scope}): {self.description}"


@dataclass(frozen=True, slots=True)
class Rubric:
    items: tuple[RubricItem, ...] = ()
    events_seen: int = 0  # how many of the user's events (in arrival order) were read into it
    updated_at: float = 0.0

    @property
    def version(self) -> str:
        """Changes when what the judge is shown changes (not when only evidence grows)."""
        if not self.items:
            return "none"
        blob = json.dumps([(i.name, i.description, i.scope) for i in self.items])
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def to_json(self) -> str:
        return json.dumps({
            "items": [{"name": i.name, "description": i.description, "scope": i.scope,
                       "evidence": list(i.evidence)} for i in self.items],
            "events_seen": self.events_seen, "updated_at": self.updated_at,
        }, ensure_ascii=False)

    @staticmethod
    def from_json(text: str) -> Rubric:
        data = json.loads(text)
        return Rubric(
            tuple(RubricItem(i["name"], i["description"], i["scope"], tuple(i["evidence"]))
                  for i in data["items"]),
            int(data["events_seen"]), float(data["updated_at"]),
        )
