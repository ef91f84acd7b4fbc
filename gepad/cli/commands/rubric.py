"""``rubric``: what a user asked for across all their feedback, as the judge grades it."""

from __future__ import annotations

import argparse

from gepad.cli.arguments import Subparsers, add_user_program
from gepad.cli.exit_codes import ExitCode
from gepad.cli.invocation import Invocation
from gepad.cli.text import local_time
from gepad.v1 import gepad_pb2 as pb

__all__ = ["register", "rubric_lines"]


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "rubric", parents=parents, help="show what a user asked for, with the evidence",
        description="Show USER's rubric for PROGRAM: the preferences gepad read from all their "
        "feedback, each with the feedback events that stated it. The judge grades every answer "
        "against it; rounds update it.",
    )
    add_user_program(p)
    p.set_defaults(handler=_rubric)


def rubric_lines(rubric: pb.Rubric) -> list[str]:
    lines = [f"{len(rubric.items)} items from {rubric.events_read} feedback events "
             f"(version {rubric.version}, updated {local_time(rubric.updated_at)})"]
    for item in rubric.items:
        lines.append(f"- {item.name} ({item.scope}): {item.description}")
        lines.append(f"    evidence: {', '.join(item.evidence)}")
    return lines


def _rubric(args: argparse.Namespace, inv: Invocation) -> int:
    rubric = inv.client().get_rubric(args.user, args.program)
    out = inv.output
    if out.json_mode:
        out.json(rubric)
    elif not rubric.HasField("updated_at"):
        out.line(f"no rubric yet: the next round for {args.user} reads their feedback into one "
                 f"(`gepad evolve {args.user} {args.program}`)")
    else:
        out.lines(rubric_lines(rubric))
    return ExitCode.OK
