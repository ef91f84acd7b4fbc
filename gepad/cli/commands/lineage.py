"""``lineage``: the tree of a user's prompt candidates and the log of what was served when."""

from __future__ import annotations

import argparse
import shutil

from gepad.cli.arguments import Subparsers, add_user_program
from gepad.cli.exit_codes import ExitCode
from gepad.cli.invocation import Invocation
from gepad.cli.tree import render_history, render_lineage
from gepad.v1 import gepad_pb2 as pb

__all__ = ["lineage_lines", "register"]


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "lineage", parents=parents, help="draw a user's candidate tree and served history",
        description="Draw the lineage tree of USER's candidates for PROGRAM (origin, short id, "
        "first line of the rationale; the served node marked), then the served-change history.",
    )
    add_user_program(p)
    p.set_defaults(handler=_lineage)


def lineage_lines(lineage: pb.ListLineageResponse, width: int) -> list[str]:
    pinned = bool(lineage.history) and max(lineage.history, key=lambda h: h.version).pinned
    ids = [c.id for c in lineage.candidates]
    lines = render_lineage(
        lineage.candidates, lineage.served_candidate_id, pinned=pinned, width=width
    )
    lines.append("")
    if lineage.history:
        history = render_history(lineage.history, ids)
        lines += ["served changes:", *("  " + line for line in history)]
    else:
        lines.append("served changes: none yet (the program's seed is served)")
    return lines


def _lineage(args: argparse.Namespace, inv: Invocation) -> int:
    lineage = inv.client().list_lineage(args.user, args.program)
    if inv.output.json_mode:
        inv.output.json(lineage)
    else:
        inv.output.lines(lineage_lines(lineage, shutil.get_terminal_size((100, 24)).columns))
    return ExitCode.OK
