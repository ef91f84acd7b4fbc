"""sqlmodel models of the tables the daemon reads through the ORM. The schema itself is defined
once, by the migrations (`migrations.py`); `tests/store/test_migrations.py` checks that every
model here matches the migrated table."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

__all__ = ["ProgramRow"]


class ProgramRow(SQLModel, table=True):
    __tablename__ = "programs"
    name: str = Field(primary_key=True)
    # The Program record as JSON (gepad.programs.program_to_json).
    spec_json: str
    revision: int
    updated_at: float
