"""``adapters``: the daemon's delivery targets, what each last delivered, and what went wrong."""

from __future__ import annotations

import argparse

from gepad.cli.arguments import Subparsers
from gepad.cli.exit_codes import ExitCode
from gepad.cli.invocation import Invocation
from gepad.cli.table import render_table
from gepad.cli.text import excerpt, local_time, plural
from gepad.v1 import gepad_pb2 as pb

__all__ = ["adapters_lines", "register"]


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "adapters", parents=parents, help="list adapter targets, their deliveries and errors",
        description="List the daemon's adapter targets (the [[adapters]] tables of its config): "
        "whose prompt each receives, the version it last delivered, deliveries waiting, its "
        "last error and the last edit it noticed. Needs admin rights.",
    )
    p.set_defaults(handler=_adapters)


def _delivered(target: pb.AdapterTarget) -> str:
    if not target.delivered:
        return "-"
    if target.user_id:
        newest = target.delivered[0]
        return f"v{newest.version} at {local_time(newest.delivered_at)}"
    return f"{plural(target.delivered_users, 'user')}, last v{target.delivered[0].version}"


def _state(target: pb.AdapterTarget) -> str:
    if target.failures:
        return f"failing ({plural(target.failures, 'try', 'tries')} in a row)"
    return "ok"


def adapters_lines(response: pb.ListAdaptersResponse) -> list[str]:
    rows = [[t.name, t.plugin, f"{t.user_id or '*'}/{t.program}", _delivered(t),
             str(t.pending), _state(t)] for t in response.targets]
    lines = render_table(["TARGET", "PLUGIN", "USER/PROGRAM", "DELIVERED", "PENDING", "STATE"],
                         rows, right={4})
    for t in response.targets:
        if t.last_error:
            lines.append(f"{t.name}: last error at {local_time(t.last_error_at)}: "
                         f"{excerpt(t.last_error, 200)}")
        if t.last_edit_note:
            lines.append(f"{t.name}: last edit at {local_time(t.last_edit_at)}: "
                         f"{excerpt(t.last_edit_note, 200)}")
    return lines


def _adapters(args: argparse.Namespace, inv: Invocation) -> int:
    response = inv.client().list_adapters()
    out = inv.output
    if out.json_mode:
        out.json(response)
    elif not response.targets:
        out.line("no adapter targets: add [[adapters]] tables to the daemon's config "
                 "(README.md, \"Adapters\")")
    else:
        out.lines(adapters_lines(response))
    return ExitCode.OK
