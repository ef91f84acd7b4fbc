"""A user's lineage as gepad keeps it: the candidates (nodes), what the user is served now, and
every change of that, with who made it and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gepad.engine import candidate_id

__all__ = ["CandidateRecord", "ServedChange", "ServedState", "human_edit_node"]


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    candidate_id: str
    parent_ids: tuple[str, ...]
    origin: str
    components: Mapping[str, str]
    rationale: str
    run_id: str
    created_at: float


@dataclass(frozen=True, slots=True)
class ServedState:
    user_id: str
    program: str
    candidate_id: str
    components: Mapping[str, str]
    version: int
    pinned: bool
    updated_at: float


@dataclass(frozen=True, slots=True)
class ServedChange:
    version: int
    from_candidate_id: str
    to_candidate_id: str
    reason: str
    actor: str
    pinned: bool
    note: str
    at: float


def human_edit_node(
    components: Mapping[str, str],
    *,
    served: ServedState | None,
    seed: CandidateRecord,
    event_id: str,
    at: float,
) -> CandidateRecord:
    """The lineage node a person's prompt edit (event ``event_id``) adds.

    Its parent is what the person was served when the edit arrived, or the program's seed if they
    were never served anything: the edit is a change of what they saw, so rolling it back must
    return there.
    """
    parent = served.candidate_id if served is not None else seed.candidate_id
    edited = dict(components)
    return CandidateRecord(
        candidate_id=candidate_id(edited, (parent,), "human_edit"),
        parent_ids=(parent,),
        origin="human_edit",
        components=edited,
        rationale=f"edited by a person (event {event_id})",
        run_id="",
        created_at=at,
    )
