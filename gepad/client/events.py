"""Build ``FeedbackEvent`` messages from friendly Python values.

Callers write ``kind="correction"`` and ``input="the user's question"``; the proto wants enum
numbers and ``ChatMessage`` lists. The daemon validates the event itself: this module only
translates, and rejects what it cannot translate (an unknown kind, a key that is not a field).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Required, TypeAlias, TypedDict, TypeVar, cast

from gepad.enums import FEEDBACK_KIND, FEEDBACK_SOURCE
from gepad.v1 import gepad_pb2 as pb

__all__ = [
    "FEEDBACK_KINDS",
    "ChatInput",
    "EventLike",
    "FeedbackFields",
    "FeedbackKindLike",
    "FeedbackSourceLike",
    "as_event",
    "event_from_mapping",
    "feedback_event",
    "feedback_kind",
    "feedback_source",
]

# A str is one user message; otherwise a list of {"role": ..., "content": ...} or ChatMessage.
ChatInput: TypeAlias = str | Sequence[Mapping[str, str] | pb.ChatMessage]
FeedbackKindLike: TypeAlias = str | pb.FeedbackKind.ValueType
FeedbackSourceLike: TypeAlias = str | pb.FeedbackSource.ValueType

# Friendly spelling -> enum, in the proto's order (the order the CLI lists them).
FEEDBACK_KINDS: dict[str, pb.FeedbackKind.ValueType] = {
    name: cast(pb.FeedbackKind.ValueType, value) for value, name in FEEDBACK_KIND.items()
}
_SOURCES: dict[str, pb.FeedbackSource.ValueType] = {
    name: cast(pb.FeedbackSource.ValueType, value) for value, name in FEEDBACK_SOURCE.items()
}


class FeedbackFields(TypedDict, total=False):
    """``feedback_event``'s keyword arguments, for clients that forward them."""

    user_id: Required[str]
    program: Required[str]
    kind: Required[FeedbackKindLike]
    input: ChatInput | None
    output: str
    correction: str
    comment: str
    score: float | None
    dimension: str
    candidate_id: str
    source: FeedbackSourceLike | None
    source_id: str
    occurred_at: datetime | str | None
    metadata: Mapping[str, str] | None
    edited_components: Mapping[str, str] | None
    event_id: str | None


def _spelling(value: str, prefix: str) -> str:
    # "Prompt-Edit", "PROMPT_EDIT" and "FEEDBACK_KIND_PROMPT_EDIT" all name the same kind.
    name = value.strip().lower().replace("-", "_")
    return name.removeprefix(prefix)


E = TypeVar("E", pb.FeedbackKind.ValueType, pb.FeedbackSource.ValueType)


def _enum(value: str | E, table: Mapping[str, E], what: str) -> E:
    if isinstance(value, int):
        if value not in table.values():
            raise ValueError(f"unknown {what} {value}")
        return value
    found = table.get(_spelling(value, what.replace(" ", "_") + "_"))
    if found is None:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(table)}")
    return found


def feedback_kind(kind: FeedbackKindLike) -> pb.FeedbackKind.ValueType:
    return _enum(kind, FEEDBACK_KINDS, "feedback kind")


def feedback_source(source: FeedbackSourceLike) -> pb.FeedbackSource.ValueType:
    return _enum(source, _SOURCES, "feedback source")


def _messages(value: ChatInput) -> list[pb.ChatMessage]:
    if isinstance(value, str):
        return [pb.ChatMessage(role="user", content=value)]
    messages = []
    for i, item in enumerate(value):
        if isinstance(item, pb.ChatMessage):
            messages.append(item)
        elif isinstance(item, Mapping):
            unknown = set(item) - {"role", "content"}
            if unknown:
                raise ValueError(f"input[{i}]: unknown keys {sorted(unknown)}; use role, content")
            role, content = item.get("role", "user"), item.get("content", "")
            messages.append(pb.ChatMessage(role=role, content=content))
        else:
            raise ValueError(f"input[{i}]: expected a {{role, content}} mapping")
    return messages


def _timestamp(value: datetime | str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"occurred_at: not an ISO 8601 time: {value!r}") from exc
    # A naive time is taken as UTC rather than the local zone: events travel between machines.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def feedback_event(
    *,
    user_id: str,
    program: str,
    kind: FeedbackKindLike,
    input: ChatInput | None = None,
    output: str = "",
    correction: str = "",
    comment: str = "",
    score: float | None = None,
    dimension: str = "",
    candidate_id: str = "",
    source: FeedbackSourceLike | None = None,
    source_id: str = "",
    occurred_at: datetime | str | None = None,
    metadata: Mapping[str, str] | None = None,
    edited_components: Mapping[str, str] | None = None,
    event_id: str | None = None,
) -> pb.FeedbackEvent:
    """One feedback event; ``event_id`` defaults to a fresh UUID (pass your own for idempotency)."""
    event = pb.FeedbackEvent(
        event_id=event_id or str(uuid.uuid4()),
        user_id=user_id,
        program=program,
        kind=feedback_kind(kind),
        input=_messages(input) if input is not None else [],
        output=output,
        correction=correction,
        comment=comment,
        dimension=dimension,
        candidate_id=candidate_id,
        source=feedback_source(source) if source is not None else pb.FEEDBACK_SOURCE_UNSPECIFIED,
        source_id=source_id,
        metadata=dict(metadata or {}),
        edited_components=dict(edited_components or {}),
    )
    if score is not None:
        event.score = float(score)
    if occurred_at is not None:
        event.occurred_at.FromDatetime(_timestamp(occurred_at))
    return event


_FIELDS = frozenset(FeedbackFields.__annotations__)


def event_from_mapping(
    data: Mapping[str, Any], *, defaults: Mapping[str, Any] | None = None
) -> pb.FeedbackEvent:
    """An event from a JSON object with ``feedback_event``'s keyword names (one JSONL line).

    ``defaults`` fill keys the object lacks (e.g. user and program given on the command line).
    """
    merged = {**(defaults or {}), **data}
    unknown = sorted(set(merged) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    missing = [key for key in ("user_id", "program", "kind") if not merged.get(key)]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return feedback_event(**merged)


# What bulk ingest accepts: a ready event, or a mapping for ``event_from_mapping``.
EventLike: TypeAlias = pb.FeedbackEvent | Mapping[str, Any]


def as_event(item: EventLike) -> pb.FeedbackEvent:
    return item if isinstance(item, pb.FeedbackEvent) else event_from_mapping(item)
