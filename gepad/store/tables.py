"""The SQLite schema, as sqlmodel tables. Feedback events are append-only and the source of truth;
everything else can be rebuilt from them or is the daemon's own record of what it did."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "CandidateRow",
    "EngineStateRow",
    "EvaluationRow",
    "ExampleRow",
    "FeedbackRow",
    "ProgramRow",
    "RunRow",
    "ServedChangeRow",
    "ServedRow",
]


class ProgramRow(SQLModel, table=True):
    __tablename__ = "programs"
    name: str = Field(primary_key=True)
    # The gepad.v1.Program message as canonical JSON (protobuf's JSON mapping).
    spec_json: str
    revision: int
    updated_at: float


class FeedbackRow(SQLModel, table=True):
    __tablename__ = "feedback_events"
    __table_args__ = (UniqueConstraint("user_id", "event_id"),)
    seq: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True)
    event_id: str
    program: str
    kind: str
    example_id: str = Field(index=True)
    # The whole gepad.v1.FeedbackEvent as JSON: nothing the client sent is dropped.
    payload_json: str
    occurred_at: float
    received_at: float


class ExampleRow(SQLModel, table=True):
    __tablename__ = "examples"
    example_id: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    program: str
    split: str
    input_json: str
    event_count: int
    created_at: float
    updated_at: float


class CandidateRow(SQLModel, table=True):
    __tablename__ = "candidates"
    user_id: str = Field(primary_key=True)
    program: str = Field(primary_key=True)
    candidate_id: str = Field(primary_key=True)
    parent_ids_json: str
    origin: str
    components_json: str
    rationale: str
    run_id: str
    created_at: float


class ServedRow(SQLModel, table=True):
    __tablename__ = "served"
    user_id: str = Field(primary_key=True)
    program: str = Field(primary_key=True)
    candidate_id: str
    version: int
    pinned: bool
    updated_at: float


class ServedChangeRow(SQLModel, table=True):
    __tablename__ = "served_changes"
    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True)
    program: str
    version: int
    from_candidate_id: str
    to_candidate_id: str
    reason: str
    actor: str
    pinned: bool
    note: str
    at: float


class RunRow(SQLModel, table=True):
    __tablename__ = "runs"
    run_id: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    program: str
    trigger: str
    status: str
    # The gepad.v1.Run message as JSON: counters change every step and are read whole.
    run_json: str
    started_at: float
    finished_at: float | None = None


class EngineStateRow(SQLModel, table=True):
    __tablename__ = "engine_states"
    user_id: str = Field(primary_key=True)
    program: str = Field(primary_key=True)
    state_json: str
    updated_at: float


class EvaluationRow(SQLModel, table=True):
    __tablename__ = "evaluations"
    candidate_hash: str = Field(primary_key=True)
    example_id: str = Field(primary_key=True)
    evaluator_version: str = Field(primary_key=True)
    user_id: str = Field(index=True)
    program: str
    payload_json: str
    created_at: float
