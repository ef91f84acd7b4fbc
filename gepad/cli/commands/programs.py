"""``programs``: list, show and define the global prompt slots users are served from."""

from __future__ import annotations

import argparse
import json
import tomllib
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from gepad.cli.arguments import Subparsers, key_value
from gepad.cli.exit_codes import CommandError, ExitCode
from gepad.cli.invocation import Invocation
from gepad.cli.table import render_table
from gepad.cli.text import excerpt, local_time
from gepad.cli.views import program_lines
from gepad.client import NotFound
from gepad.v1 import gepad_pb2 as pb

__all__ = ["apply_settings", "program_from_file", "register"]

_MODEL_FLAGS = (
    ("task_model", "task_model"),
    ("reflection_model", "reflection_model"),
    ("judge_model", "judge_model"),
)


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "programs", parents=parents, help="list, show or define programs",
        description="Programs are global prompt slots (seed components plus model settings); "
        "every user is served from one. Without a subcommand: list them.",
    )
    p.set_defaults(handler=_list)
    commands = p.add_subparsers(title="subcommands", metavar="{list,show,set}")

    q = commands.add_parser("list", parents=parents, help="list programs")
    q.set_defaults(handler=_list)

    q = commands.add_parser("show", parents=parents, help="show one program")
    q.add_argument("name", metavar="NAME")
    q.set_defaults(handler=_show)

    q = commands.add_parser(
        "set", parents=parents, help="create or change a program",
        description="Create program NAME or change the given settings of an existing one. "
        "With --file, the file (TOML or JSON, the fields of gepad.v1.Program) is the whole "
        "definition and flags override it.",
        epilog="example: gepad programs set support-bot --system 'You are a support agent.' "
        "--task-model openai/gpt-4o-mini --api-key-env OPENAI_API_KEY "
        "--set evolution.minibatch_size=4 --set budget.max_metric_calls_per_round=200",
    )
    q.add_argument("name", metavar="NAME", nargs="?", help="program name (or `name` in --file)")
    q.add_argument("--file", metavar="PATH", type=Path, help="program definition, .toml or .json")
    q.add_argument("--system", help="the seed `system` component")
    q.add_argument(
        "--component", metavar="NAME=TEXT", type=key_value, action="append", default=[],
        help="a seed component (repeatable)",
    )
    q.add_argument("--description")
    q.add_argument("--task-model", help="litellm model string, e.g. openai/gpt-4o-mini")
    q.add_argument("--reflection-model", help="the model that proposes new prompts")
    q.add_argument("--judge-model", help="the LLM judge's model")
    q.add_argument(
        "--api-base",
        help="base URL for the models set by this command (every model of the program if none "
        "is)",
    )
    q.add_argument(
        "--api-key-env", metavar="VAR",
        help="env var holding the API key, for the models set by this command (as --api-base); "
        "a server of your own that needs no key needs none",
    )
    q.add_argument(
        "--set", metavar="FIELD=VALUE", dest="assignments", type=key_value, action="append",
        default=[], help="any Program field by dotted path; VALUE is JSON or a plain string",
    )
    q.set_defaults(handler=_set)


def _list(args: argparse.Namespace, inv: Invocation) -> int:
    response = inv.client().list_programs()
    out = inv.output
    if out.json_mode:
        out.json(response)
        return ExitCode.OK
    if not response.programs:
        out.line("no programs yet; define one with `gepad programs set NAME --system TEXT ...`")
        return ExitCode.OK
    rows = [
        [
            p.name, str(p.revision), p.task_model.model or "-",
            ",".join(sorted(p.seed_components)), local_time(p.updated_at),
            excerpt(p.description, 40),
        ]
        for p in sorted(response.programs, key=lambda p: p.name)
    ]
    headers = ["NAME", "REV", "TASK MODEL", "COMPONENTS", "UPDATED", "DESCRIPTION"]
    out.lines(render_table(headers, rows, right={1}))
    return ExitCode.OK


def _show(args: argparse.Namespace, inv: Invocation) -> int:
    program = inv.client().get_program(args.name)
    if inv.output.json_mode:
        inv.output.json(program)
    else:
        inv.output.lines(program_lines(program))
    return ExitCode.OK


def program_from_file(path: Path) -> pb.Program:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        return json_format.ParseDict(data, pb.Program())
    except (ValueError, json_format.ParseError) as exc:
        raise CommandError(f"{path}: {exc}") from None


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def apply_settings(program: pb.Program, args: argparse.Namespace) -> None:
    """Apply the flags of ``programs set`` to ``program`` in place."""
    if args.system is not None:
        program.seed_components["system"] = args.system
    for name, text in args.component:
        program.seed_components[name] = text
    if args.description is not None:
        program.description = args.description
    named = []
    for flag, field in _MODEL_FLAGS:
        model = getattr(args, flag)
        if model is not None:
            getattr(program, field).model = model
            named.append(field)
    # With no model flag, the base and key are for every model the program names (a reflection
    # or judge model left unset is the task model, and follows it).
    every = [field for _, field in _MODEL_FLAGS
             if field == "task_model" or getattr(program, field).model]
    for field in named or every:
        settings: pb.ModelSettings = getattr(program, field)
        if args.api_base is not None:
            settings.api_base = args.api_base
        if args.api_key_env is not None:
            settings.api_key_env = args.api_key_env
    for path, value in args.assignments:
        update: dict[str, Any] = {}
        node = update
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _parse_value(value)
        try:
            # Parse into a scratch message so a bad path leaves the program untouched.
            patch = json_format.ParseDict(update, pb.Program())
        except json_format.ParseError as exc:
            raise CommandError(f"--set {path}: {exc}") from None
        _copy_field(patch, program, (*parents, leaf))


def _copy_field(source: Any, target: Any, path: tuple[str, ...]) -> None:
    # Program.MergeFrom would append to repeated fields and merge maps; --set replaces the one
    # field it names (messages, maps and lists included) and leaves its siblings alone.
    *parents, leaf = path
    for part in parents:
        source, target = getattr(source, part), getattr(target, part)
    target.ClearField(leaf)
    value = getattr(source, leaf)
    if hasattr(value, "MergeFrom"):
        getattr(target, leaf).MergeFrom(value)
    else:
        setattr(target, leaf, value)


def _set(args: argparse.Namespace, inv: Invocation) -> int:
    client = inv.client()
    if args.file is not None:
        program = program_from_file(args.file)
        if args.name:
            program.name = args.name
    else:
        if not args.name:
            raise CommandError("programs set needs NAME (or --file with a name)")
        try:
            program = client.get_program(args.name)
        except NotFound:
            program = pb.Program(name=args.name)
    if not program.name:
        raise CommandError(f"{args.file}: no `name`; give NAME on the command line")
    apply_settings(program, args)
    # Output-only fields: the daemon sets them.
    program.ClearField("revision")
    program.ClearField("updated_at")
    response = client.upsert_program(program)
    out = inv.output
    if out.json_mode:
        out.json(response)
        return ExitCode.OK
    verb = "created" if response.created else "updated"
    out.line(f"{verb} program {response.program.name} (revision {response.program.revision})")
    out.lines(["", *program_lines(response.program)])
    return ExitCode.OK
