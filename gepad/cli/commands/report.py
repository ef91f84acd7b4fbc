"""``report``: one self-contained HTML page about a user's prompt: scores and costs per round
(plots), the evaluators and failure modes with coverage and calibration, the served prompt's
last change, the lineage and the frontier. Everything comes from the daemon's RPCs; the page is
drawn here (gepad/report/), so the daemon never loads a plotting library."""

from __future__ import annotations

import argparse
from pathlib import Path

from gepad.atomic_files import write_atomically
from gepad.cli.arguments import Subparsers, add_user_program
from gepad.cli.commands.evaluators import calibration_figures
from gepad.cli.commands.lineage import lineage_lines
from gepad.cli.exit_codes import CommandError, ExitCode
from gepad.cli.invocation import Invocation
from gepad.enums import CANDIDATE_ORIGIN, RUN_STATUS
from gepad.report import ReportData
from gepad.report.page import EvaluatorRow, FrontierRow, ModeRow, RoundRow, prompt_diff
from gepad.v1 import gepad_pb2 as pb

__all__ = ["register", "report_data"]

MAX_ROUNDS = 200


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report", parents=parents, help="write a self-contained HTML report about a user's prompt",
        description="Write one HTML file about USER's prompt for PROGRAM: served and best val "
        "score over rounds (a plot), calls and cost per round, the evaluators with their "
        "calibration and the failure-mode coverage, the served prompt's diff against the one "
        "before it, the lineage tree (served node and pins marked) and the frontier. The file "
        "needs no network to view. Needs matplotlib (pip install 'gepad[report]').",
    )
    add_user_program(p)
    p.add_argument("-o", "--output", metavar="FILE", type=Path, required=True,
                   help="the HTML file to write")
    p.set_defaults(handler=_report)


def _seconds(ts: object) -> float:
    return ts.seconds + ts.nanos / 1e9  # type: ignore[attr-defined, no-any-return]


def report_data(prompt: pb.Prompt, runs: pb.ListRunsResponse, lineage: pb.ListLineageResponse,
                frontier: pb.GetFrontierResponse, evaluators: pb.ListEvaluatorsResponse
                ) -> ReportData:
    scores = {e.candidate.id: e.val_score for e in frontier.entries}
    changes = sorted(lineage.history, key=lambda h: h.version)
    seed = next((c.id for c in lineage.candidates
                 if c.origin == pb.CANDIDATE_ORIGIN_SEED), prompt.candidate_id)

    def served_after(run: pb.Run) -> str:
        end = _seconds(run.finished_at) or _seconds(run.started_at)
        served = seed
        for change in changes:
            if _seconds(change.at) <= end:
                served = change.to_candidate_id
        return served

    ordered = sorted(runs.runs, key=lambda r: (_seconds(r.started_at), r.run_id))
    rounds = [RoundRow(r.run_id, _seconds(r.started_at), RUN_STATUS.get(r.status, "?"),
                       r.promoted, r.best_val_score, scores.get(served_after(r)),
                       r.metric_calls, r.llm_calls, r.cost_usd, r.message) for r in ordered]
    components = {c.id: dict(c.components) for c in lineage.candidates}
    diff: list[str] = []
    title = ""
    if changes:
        last = changes[-1]
        before = components.get(last.from_candidate_id, {})
        diff = prompt_diff(before, dict(prompt.components))
        title = (f"Version {last.version}: {last.from_candidate_id} → {last.to_candidate_id} "
                 f"({last.reason}, by {last.actor})")
    return ReportData(
        user_id=prompt.user_id, program=prompt.program, served_id=prompt.candidate_id,
        served_version=prompt.version, pinned=prompt.pinned, rounds=rounds,
        lineage=lineage_lines(lineage, 120),
        frontier=[FrontierRow(e.candidate.id, CANDIDATE_ORIGIN.get(e.candidate.origin, "?"),
                              e.val_score, e.instances_won, e.val_coverage,
                              e.candidate.id == frontier.served_candidate_id)
                  for e in frontier.entries],
        evaluators=[EvaluatorRow(e.name, e.kind, e.status, e.failure_mode, e.version,
                                 calibration_figures(e.calibration), e.reason)
                    for e in evaluators.evaluators],
        modes=[ModeRow(m.name, m.description, m.failures, m.corrections, m.covered,
                       tuple(m.evaluators)) for m in evaluators.failure_modes],
        coverage=(evaluators.covered_modes, evaluators.tracked_modes),
        diff=diff, diff_title=title,
    )


def _report(args: argparse.Namespace, inv: Invocation) -> int:
    try:
        import matplotlib  # noqa: F401 - say what is missing before asking the daemon

        from gepad.report import render_report
    except ImportError as exc:
        raise CommandError(f"gepad report needs matplotlib: pip install 'gepad[report]' ({exc})",
                           ExitCode.USAGE) from exc
    client = inv.client()
    user, program = args.user, args.program
    data = report_data(
        client.get_prompt(user, program), client.list_runs(user, program, limit=MAX_ROUNDS),
        client.list_lineage(user, program), client.get_frontier(user, program),
        client.list_evaluators(user, program))
    try:
        write_atomically(args.output, render_report(data).encode())
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    if inv.output.json_mode:
        inv.output.json({"path": str(args.output), "rounds": len(data.rounds)})
    else:
        inv.output.line(f"wrote {args.output} ({len(data.rounds)} rounds)")
    return ExitCode.OK
