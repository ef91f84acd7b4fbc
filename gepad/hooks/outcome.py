"""What one hook run is for (who and which program) and what it produced."""

from __future__ import annotations

from dataclasses import dataclass, field

from gepad.v1 import gepad_pb2 as pb

__all__ = ["Outcome", "Subject"]


@dataclass(frozen=True)
class Subject:
    """The gepad user and program a coding agent's sessions give feedback for."""

    user_id: str
    program: str


@dataclass
class Outcome:
    events: list[pb.FeedbackEvent] = field(default_factory=list)
    # What happened, in a few words, for the hooks' log.
    note: str = ""
    # What the editor expects on stdout ("" for nothing at all).
    reply: str = ""
