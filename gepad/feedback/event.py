"""A feedback event as gepad keeps it: what a client said about one output of its LLM.

``kind`` and ``source`` are gepad's names ("correction", "llm_judge"); an empty string is a value
the client left unset, and validation says whether that is allowed. The stored payload of an event
is this record's JSON, without the fields left at their defaults (``event_from_json`` restores
them): less to encode on the ingest path and less to store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gepad import stored_json

__all__ = [
    "FEEDBACK_KINDS",
    "FEEDBACK_SOURCES",
    "FeedbackEvent",
    "event_from_json",
    "event_to_json",
]

FEEDBACK_KINDS = ("acceptance", "rejection", "correction", "rating", "judge_verdict", "prompt_edit")
FEEDBACK_SOURCES = ("human", "llm_judge", "code")


@dataclass(frozen=True)
class FeedbackEvent:
    event_id: str
    user_id: str
    program: str
    kind: str
    input: tuple[tuple[str, str], ...] = ()  # (role, content) of each message the model answered
    output: str = ""
    candidate_id: str = ""
    correction: str = ""
    comment: str = ""
    score: float | None = None
    dimension: str = ""
    source: str = ""
    source_id: str = ""
    occurred_at: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    edited_components: Mapping[str, str] = field(default_factory=dict)

    @property
    def from_human(self) -> bool:
        """People send feedback unless the client says a judge or code did."""
        return self.source in ("", "human")


_OPTIONAL_TEXT = ("output", "candidate_id", "correction", "comment", "dimension", "source",
                  "source_id")
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def event_to_json(event: FeedbackEvent) -> str:
    data: dict[str, Any] = {
        "event_id": event.event_id, "user_id": event.user_id, "program": event.program,
        "kind": event.kind,
    }
    if event.input:
        data["input"] = [{"role": r, "content": c} for r, c in event.input]
    for name in _OPTIONAL_TEXT:
        value = getattr(event, name)
        if value:
            data[name] = value
    if event.score is not None:
        data["score"] = event.score
    if event.occurred_at is not None:
        data["occurred_at"] = event.occurred_at
    if event.metadata:
        data["metadata"] = dict(event.metadata)
    if event.edited_components:
        data["edited_components"] = dict(event.edited_components)
    return _ENCODE(data)


def _name(value: str, prefix: str) -> str:
    # Older payloads hold the protobuf enum's name ("FEEDBACK_SOURCE_HUMAN").
    name = value.removeprefix(prefix).lower()
    return "" if name == "unspecified" else name


def event_from_json(text: str) -> FeedbackEvent:
    data = json.loads(text)
    score = data.get("score")
    occurred = data.get("occurred_at")
    return FeedbackEvent(
        event_id=stored_json.field(data, "event_id", ""),
        user_id=stored_json.field(data, "user_id", ""),
        program=data.get("program", ""),
        kind=_name(data.get("kind", ""), "FEEDBACK_KIND_"),
        input=tuple((m.get("role", ""), m.get("content", "")) for m in data.get("input", [])),
        output=data.get("output", ""),
        candidate_id=stored_json.field(data, "candidate_id", ""),
        correction=data.get("correction", ""),
        comment=data.get("comment", ""),
        score=None if score is None else float(score),
        dimension=data.get("dimension", ""),
        source=_name(data.get("source", ""), "FEEDBACK_SOURCE_"),
        source_id=stored_json.field(data, "source_id", ""),
        occurred_at=occurred if isinstance(occurred, int | float) else None,
        metadata=dict(data.get("metadata") or {}),
        edited_components=dict(stored_json.field(data, "edited_components") or {}),
    )
