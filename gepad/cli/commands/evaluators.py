"""``evaluators``: what measures a user's outputs, how far each agrees with the user's own
labels, which of them decide promotion, and the share of failure modes covered."""

from __future__ import annotations

import argparse

from gepad.cli.arguments import Subparsers, add_user_program
from gepad.cli.exit_codes import ExitCode
from gepad.cli.invocation import Invocation
from gepad.cli.table import render_table
from gepad.cli.text import local_time
from gepad.v1 import gepad_pb2 as pb

__all__ = ["calibration_figures", "evaluators_lines", "register"]


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "evaluators", parents=parents,
        help="show a user's evaluators, their calibration and the eval coverage",
        description="Show USER's evaluators for PROGRAM: each with its kind, version, agreement "
        "with USER's own labels on a held-out slice (Matthews correlation, Cohen's kappa, "
        "TPR/TNR, n) and the status that earned (gating: decides promotion; advisory: steers "
        "the search only; off: not used); the failure modes and the share of them covered by "
        "a gating evaluator; and what changed. Rounds keep them calibrated.",
    )
    add_user_program(p)
    p.set_defaults(handler=_evaluators)


def _figure(message: pb.Calibration, field: str) -> str:
    return f"{getattr(message, field):.2f}" if message.HasField(field) else "-"  # type: ignore[arg-type]


def calibration_figures(c: pb.Calibration) -> str:
    if c.degenerate:
        return f"n {c.n}: {c.degenerate}"
    return (f"MCC {_figure(c, 'mcc')}, kappa {_figure(c, 'kappa')}, TPR {_figure(c, 'tpr')}, "
            f"TNR {_figure(c, 'tnr')}, n {c.n}")


def evaluators_lines(response: pb.ListEvaluatorsResponse) -> list[str]:
    coverage = (f"{response.covered_modes / response.tracked_modes:.0%}"
                if response.tracked_modes else "n/a")
    lines = [f"eval coverage: {response.covered_modes} of {response.tracked_modes} failure "
             f"modes have a gating evaluator ({coverage}); {response.accepted_outputs} "
             f"accepted outputs (updated {local_time(response.updated_at)})", ""]
    rows = [[e.name, e.kind, e.status, e.failure_mode or "(everything)", e.version[:28],
             calibration_figures(e.calibration)] for e in response.evaluators]
    lines += render_table(["EVALUATOR", "KIND", "STATUS", "FAILURE MODE", "VERSION",
                           "CALIBRATION"], rows)
    for e in response.evaluators:
        lines.append(f"- {e.name}: {e.reason} (fails an output scored below {e.point:.2f})")
        lines += [f"    {check}" for check in e.checks]
    if response.failure_modes:
        lines += ["", "failure modes:"]
        for m in response.failure_modes:
            covered = "covered" if m.covered else "not covered"
            by = f" by {', '.join(m.evaluators)}" if m.evaluators else ""
            shared = f"; {m.shared_by_users} users share it" if m.shared_by_users > 1 else ""
            lines.append(f"- {m.name} ({m.failures} failures, {m.corrections} corrections; "
                         f"{covered}{by}{shared}): {m.description}")
    if response.program_failure_modes:
        lines += ["", "across the program's users:"]
        lines += [f"- {m.name}: {len(m.users)} users ({', '.join(m.users)}), {m.evidence} "
                  f"events" for m in response.program_failure_modes]
    if response.log:
        lines += ["", "log:"]
        lines += [f"  {local_time(entry.at)}  {entry.text}" for entry in response.log[-10:]]
    return lines


def _evaluators(args: argparse.Namespace, inv: Invocation) -> int:
    response = inv.client().list_evaluators(args.user, args.program)
    out = inv.output
    if out.json_mode:
        out.json(response)
    elif not response.HasField("updated_at"):
        out.line(f"no evaluators yet: the next round for {args.user} calibrates them against "
                 f"their feedback (`gepad evolve {args.user} {args.program}`)")
    else:
        out.lines(evaluators_lines(response))
    return ExitCode.OK
