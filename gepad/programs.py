"""Programs: what a client registers (seed prompt, models, evolution settings, budget), checked,
held in memory and written through the store.

Programs are few and read on every feedback event and every GetPrompt of a user still on the
seed, so they live in a dict; the database is only their durable copy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from gepad import stored_json
from gepad.caps import BudgetCaps, check_caps
from gepad.engine import candidate_id
from gepad.errors import InvalidArgument
from gepad.feedback.validation import check_components, check_program_name
from gepad.lineage import CandidateRecord
from gepad.llm import ModelSettings

__all__ = [
    "MODEL_ROLES",
    "BudgetCaps",
    "EvolutionSettings",
    "Program",
    "ProgramRegistry",
    "program_from_json",
    "program_to_json",
    "seed_candidate",
    "validate_program",
]

MAX_PATTERNS = 32
MAX_PATTERN_CHARS = 1_024
MAX_DESCRIPTION_CHARS = 8_192
MAX_PARAMS_CHARS = 8_192
# litellm parameters a program may not set in a model's params.
_RESERVED_PARAMS = frozenset({"api_key", "api_base", "base_url", "model", "messages",
                              "num_retries", "max_retries", "timeout"})
# The program fields that each name a model (ModelSettings).
MODEL_ROLES = ("task_model", "reflection_model", "judge_model")


@dataclass(frozen=True)
class EvolutionSettings:
    """How a program's rounds search; 0 (or empty) means gepad's default."""

    minibatch_size: int = 0
    rollouts_per_example: int = 0
    max_merges_per_round: int = 0
    max_iterations_per_round: int = 0
    promotion_margin: float = 0.0
    evolve_after_events: int = 0
    max_concurrency: int = 0
    must_match: tuple[str, ...] = ()
    must_not_match: tuple[str, ...] = ()
    max_output_chars: int = 0


@dataclass(frozen=True)
class Program:
    """A registered program. A model role without its own ``model`` (reflection, judge) uses the
    task model's settings; ``revision`` and ``updated_at`` are set by the daemon."""

    name: str
    seed_components: Mapping[str, str]
    task_model: ModelSettings = field(default_factory=lambda: ModelSettings(""))
    reflection_model: ModelSettings = field(default_factory=lambda: ModelSettings(""))
    judge_model: ModelSettings = field(default_factory=lambda: ModelSettings(""))
    evolution: EvolutionSettings = field(default_factory=EvolutionSettings)
    budget: BudgetCaps = field(default_factory=BudgetCaps)
    description: str = ""
    revision: int = 0
    updated_at: float = 0.0


def validate_program(program: Program) -> Program:
    """Check a client's program; return it without the fields only the daemon sets."""
    check_program_name("program.name", program.name)
    check_components("program.seed_components", program.seed_components)
    for name in MODEL_ROLES:
        settings: ModelSettings = getattr(program, name)
        api_base = settings.api_base or ""
        if len(settings.model) > 256 or len(api_base) > 1024:
            raise InvalidArgument(f"program.{name}", "model or api_base is too long")
        if settings.api_key_env and not settings.api_key_env.replace("_", "a").isalnum():
            raise InvalidArgument(
                f"program.{name}.api_key_env",
                "is the NAME of an environment variable (letters, digits, '_'), not the key",
            )
        if api_base and not api_base.startswith(("http://", "https://")):
            raise InvalidArgument(f"program.{name}.api_base", "must be an http(s) URL")
        reserved = sorted(set(settings.params) & _RESERVED_PARAMS)
        if reserved:
            # A key in params would be stored in clear; the rest gepad sets itself per call.
            raise InvalidArgument(f"program.{name}.params.{reserved[0]}",
                                  "is set by gepad (a key comes from api_key_env, the base from "
                                  "api_base); remove it from params")
        if len(json.dumps(dict(settings.params), default=str)) > MAX_PARAMS_CHARS:
            raise InvalidArgument(f"program.{name}.params",
                                  f"is longer than {MAX_PARAMS_CHARS} characters as JSON")
    ev = program.evolution
    for field_name in ("minibatch_size", "rollouts_per_example", "max_merges_per_round",
                       "max_iterations_per_round", "evolve_after_events", "max_concurrency",
                       "max_output_chars"):
        if getattr(ev, field_name) < 0:
            raise InvalidArgument(f"program.evolution.{field_name}", "must not be negative")
    if not 0.0 <= ev.promotion_margin <= 1.0:
        raise InvalidArgument("program.evolution.promotion_margin", "must be within 0..1")
    for field_name in ("must_match", "must_not_match"):
        patterns = getattr(ev, field_name)
        if len(patterns) > MAX_PATTERNS:
            raise InvalidArgument(f"program.evolution.{field_name}",
                                  f"at most {MAX_PATTERNS} patterns")
        for i, pattern in enumerate(patterns):
            # Compiled as the rule evaluator will, so a bad one fails here and not the next round.
            try:
                re.compile(pattern, re.IGNORECASE)
            except (re.error, RecursionError, OverflowError) as exc:
                raise InvalidArgument(f"program.evolution.{field_name}[{i}]",
                                      f"is not a valid regular expression: {exc}") from None
            if len(pattern) > MAX_PATTERN_CHARS:
                raise InvalidArgument(f"program.evolution.{field_name}[{i}]",
                                      f"is longer than {MAX_PATTERN_CHARS} characters")
    if len(program.description) > MAX_DESCRIPTION_CHARS:
        raise InvalidArgument("program.description",
                              f"is longer than {MAX_DESCRIPTION_CHARS} characters")
    check_caps("program.budget", program.budget)
    return replace(program, revision=0, updated_at=0.0)


def seed_candidate(program: Program) -> CandidateRecord:
    components = dict(program.seed_components)
    return CandidateRecord(
        candidate_id=candidate_id(components, (), "seed"),
        parent_ids=(),
        origin="seed",
        components=components,
        rationale=f"seed of program {program.name!r} (revision {program.revision})",
        run_id="",
        created_at=program.updated_at,
    )


class ProgramRegistry:
    """Every program of the daemon, by name, with its seed candidate built once."""

    def __init__(self, programs: Iterable[Program] = ()) -> None:
        self._programs: dict[str, Program] = {p.name: p for p in programs}
        self._seeds: dict[str, CandidateRecord] = {
            p.name: seed_candidate(p) for p in self._programs.values()
        }

    def get(self, name: str) -> Program | None:
        return self._programs.get(name)

    def seed(self, name: str) -> CandidateRecord | None:
        return self._seeds.get(name)

    def all(self) -> list[Program]:
        return [self._programs[n] for n in sorted(self._programs)]

    def put(self, program: Program) -> None:
        self._programs[program.name] = program
        self._seeds[program.name] = seed_candidate(program)


# ---------------------------------------------------------------------- stored form


def _model_to_dict(settings: ModelSettings) -> dict[str, Any]:
    return {"model": settings.model, "api_base": settings.api_base or "",
            "api_key_env": settings.api_key_env or "", "params": dict(settings.params)}


def _model_from_dict(data: Mapping[str, Any]) -> ModelSettings:
    return ModelSettings(
        model=data.get("model", ""),
        api_base=stored_json.field(data, "api_base") or None,
        api_key_env=stored_json.field(data, "api_key_env") or None,
        params=dict(data.get("params") or {}),
    )


def program_to_json(program: Program) -> str:
    data: dict[str, Any] = {
        "name": program.name, "seed_components": dict(program.seed_components),
        "description": program.description, "revision": program.revision,
        "updated_at": program.updated_at,
        "evolution": asdict(program.evolution),
        "budget": asdict(program.budget),
    }
    for role in MODEL_ROLES:
        data[role] = _model_to_dict(getattr(program, role))
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def program_from_json(text: str, *, revision: int, updated_at: float) -> Program:
    """A stored program; ``revision`` and ``updated_at`` come from their own columns."""
    data = json.loads(text)
    return Program(
        name=data["name"],
        seed_components=dict(stored_json.field(data, "seed_components", {})),
        description=data.get("description", ""),
        evolution=stored_json.settings(EvolutionSettings, data.get("evolution") or {}),
        budget=stored_json.settings(BudgetCaps, data.get("budget") or {}),
        revision=revision,
        updated_at=updated_at,
        **{role: _model_from_dict(stored_json.field(data, role) or {}) for role in MODEL_ROLES},
    )
