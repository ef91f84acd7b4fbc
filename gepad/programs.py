"""The program registry: every program's settings held in memory, written through the store.

Programs are few and read on every feedback event and every GetPrompt of a user still on the
seed, so they live in a dict; the database is only their durable copy.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import json_format

from gepad.engine import candidate_id
from gepad.errors import InvalidArgument
from gepad.feedback.validation import check_components, check_program_name
from gepad.store.lineage import CandidateRecord
from gepad.v1 import gepad_pb2 as pb

__all__ = ["ProgramRegistry", "validate_program"]

_MODEL_FIELDS = ("task_model", "reflection_model", "judge_model")


def validate_program(program: pb.Program) -> pb.Program:
    """Check a client's program; return a copy without output-only fields."""
    check_program_name("program.name", program.name)
    check_components("program.seed_components", program.seed_components)
    for name in _MODEL_FIELDS:
        settings: pb.ModelSettings = getattr(program, name)
        if len(settings.model) > 256 or len(settings.api_base) > 1024:
            raise InvalidArgument(f"program.{name}", "model or api_base is too long")
        if settings.api_key_env and not settings.api_key_env.replace("_", "a").isalnum():
            raise InvalidArgument(
                f"program.{name}.api_key_env",
                "is the NAME of an environment variable (letters, digits, '_'), not the key",
            )
        if settings.api_base and not settings.api_base.startswith(("http://", "https://")):
            raise InvalidArgument(f"program.{name}.api_base", "must be an http(s) URL")
    ev = program.evolution
    for field in ("minibatch_size", "rollouts_per_example", "max_merges_per_round",
                  "max_iterations_per_round", "evolve_after_events", "max_concurrency",
                  "max_output_chars"):
        if getattr(ev, field) < 0:
            raise InvalidArgument(f"program.evolution.{field}", "must not be negative")
    if not 0.0 <= ev.promotion_margin <= 1.0:
        raise InvalidArgument("program.evolution.promotion_margin", "must be within 0..1")
    b = program.budget
    for field in ("max_metric_calls_per_round", "max_tokens_per_round", "max_cost_usd_per_round",
                  "max_metric_calls_per_day", "max_tokens_per_day", "max_cost_usd_per_day"):
        if getattr(b, field) < 0:
            raise InvalidArgument(f"program.budget.{field}", "must not be negative")
    clean = pb.Program()
    clean.CopyFrom(program)
    clean.ClearField("revision")
    clean.ClearField("updated_at")
    return clean


def seed_candidate(program: pb.Program) -> CandidateRecord:
    components = dict(program.seed_components)
    return CandidateRecord(
        candidate_id=candidate_id(components, (), "seed"),
        parent_ids=(),
        origin="seed",
        components=components,
        rationale=f"seed of program {program.name!r} (revision {program.revision})",
        run_id="",
        created_at=program.updated_at.ToSeconds() if program.HasField("updated_at") else 0.0,
    )


class ProgramRegistry:
    def __init__(self, programs: Iterable[pb.Program] = ()) -> None:
        self._programs: dict[str, pb.Program] = {p.name: p for p in programs}
        self._seeds: dict[str, CandidateRecord] = {
            p.name: seed_candidate(p) for p in self._programs.values()
        }

    def get(self, name: str) -> pb.Program | None:
        return self._programs.get(name)

    def seed(self, name: str) -> CandidateRecord | None:
        return self._seeds.get(name)

    def all(self) -> list[pb.Program]:
        return [self._programs[n] for n in sorted(self._programs)]

    def put(self, program: pb.Program) -> None:
        self._programs[program.name] = program
        self._seeds[program.name] = seed_candidate(program)

    @staticmethod
    def to_json(program: pb.Program) -> str:
        return json_format.MessageToJson(program, indent=None, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> pb.Program:
        return json_format.Parse(text, pb.Program())
