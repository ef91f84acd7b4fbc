"""A user's lineage as gepad keeps it: the candidates (nodes), what the user is served now, and
every change of that, with who made it and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CandidateRecord", "ServedChange", "ServedState"]


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
