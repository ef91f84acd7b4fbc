"""Served prompts and programs as text for people."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf import json_format

from gepad.cli.text import local_time
from gepad.v1 import gepad_pb2 as pb

__all__ = ["components_lines", "program_lines", "prompt_header", "prompt_lines"]


def _ordered(components: Mapping[str, str]) -> list[str]:
    # "system" first (the usual single component), the rest by name.
    return sorted(components, key=lambda name: (name != "system", name))


def components_lines(components: Mapping[str, str], indent: str = "") -> list[str]:
    lines: list[str] = []
    for name in _ordered(components):
        lines.append(f"{indent}[{name}]")
        lines.extend(f"{indent}{line}" for line in (components[name].splitlines() or [""]))
    return lines


def prompt_header(prompt: pb.Prompt) -> str:
    candidate = prompt.candidate_id[:12] or "(none)"
    state = "pinned" if prompt.pinned else "not pinned"
    return (
        f"version {prompt.version} · candidate {candidate} · {state} · "
        f"updated {local_time(prompt.updated_at)}"
    )


def prompt_lines(prompt: pb.Prompt) -> list[str]:
    return [
        f"{prompt.user_id} / {prompt.program}",
        prompt_header(prompt),
        "",
        *components_lines(prompt.components),
    ]


def _model(settings: pb.ModelSettings, role: str = "task") -> str:
    if not settings.model:
        # A reflection or judge model left unset is the task model (its base and key too).
        return "(not set)" if role == "task" else "(the task model)"
    text = settings.model
    if settings.api_base:
        text += f" at {settings.api_base}"
    if settings.api_key_env:
        text += f", key from ${settings.api_key_env}"
    if settings.params.fields:
        params = json_format.MessageToDict(settings.params)
        text += ", " + ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return text


def _set_fields(message: pb.EvolutionSettings | pb.Budget) -> str:
    data = json_format.MessageToDict(message, preserving_proto_field_name=True)
    if not data:
        return "daemon defaults"
    return ", ".join(f"{k}={v}" for k, v in data.items())


def program_lines(program: pb.Program) -> list[str]:
    updated = local_time(program.updated_at)
    lines = [f"{program.name}  (revision {program.revision}, updated {updated})"]
    if program.description:
        lines.append(f"  {program.description}")
    lines += [
        f"  task model:       {_model(program.task_model)}",
        f"  reflection model: {_model(program.reflection_model, 'reflection')}",
        f"  judge model:      {_model(program.judge_model, 'judge')}",
        f"  evolution:        {_set_fields(program.evolution)}",
        f"  budget:           {_set_fields(program.budget)}"
        + ("" if program.budget.ByteSize() == 0 else " (unset caps: daemon defaults)"),
        "",
        "seed components:",
        *components_lines(program.seed_components, indent="  "),
    ]
    return lines
