"""``evolve``, ``runs``, ``frontier``: GEPA rounds and what they found."""

from __future__ import annotations

import argparse

from gepad.cli.arguments import Subparsers, add_user_program
from gepad.cli.exit_codes import ExitCode
from gepad.cli.invocation import Invocation
from gepad.cli.progress import ProgressView, outcome
from gepad.cli.table import render_table
from gepad.cli.text import local_time
from gepad.cli.tree import short_ids
from gepad.enums import CANDIDATE_ORIGIN, RUN_STATUS
from gepad.v1 import gepad_pb2 as pb

__all__ = ["frontier_lines", "register", "runs_lines"]

_FINISHED = {pb.RUN_STATUS_SUCCEEDED, pb.RUN_STATUS_FAILED, pb.RUN_STATUS_CANCELLED}


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "evolve", parents=parents, help="start an evolution round now",
        description="Start a GEPA round for USER's PROGRAM now. With --wait, follow it to the "
        "end: a progress bar on a terminal, one line per event otherwise.",
    )
    add_user_program(p)
    p.add_argument("--max-iterations", type=int, default=0, metavar="N",
                   help="cap this round's iterations (default: the program's setting)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: from the run id)")
    p.add_argument("--wait", action="store_true", help="follow the run until it finishes")
    p.set_defaults(handler=_evolve, evolution=True)

    p = sub.add_parser("runs", parents=parents, help="list a user's evolution rounds")
    add_user_program(p)
    p.add_argument("--limit", type=int, default=20, help="at most this many, newest first")
    p.set_defaults(handler=_runs, evolution=True)

    p = sub.add_parser(
        "frontier", parents=parents, help="show a user's Pareto frontier of candidates",
    )
    add_user_program(p)
    p.set_defaults(handler=_frontier, evolution=True)


def _evolve(args: argparse.Namespace, inv: Invocation) -> int:
    client, out = inv.client(), inv.output
    started = client.evolve(
        args.user, args.program, max_iterations=args.max_iterations, seed=args.seed
    )
    if not args.wait:
        if out.json_mode:
            out.json(started)
        else:
            out.line(f"started run {started.run_id}")
            out.line(f"follow it with `gepad runs {args.user} {args.program}`")
        return ExitCode.OK

    view = ProgressView(out.out, tty=out.out.isatty(), max_iterations=args.max_iterations)
    last: pb.Run | None = None
    try:
        for progress in client.watch_run(started.run_id):
            last = progress.run
            if out.json_mode:
                out.json(progress, stream=True)
            else:
                view.update(progress)
    except KeyboardInterrupt:
        view.close()
        out.note(f"stopped watching; run {started.run_id} goes on in the daemon")
        return ExitCode.INTERRUPTED
    finally:
        view.close()
    # The stream may end before the final state was sent (e.g. the daemon restarted).
    run = last if last is not None and last.status in _FINISHED else client.get_run(started.run_id)
    if out.json_mode:
        out.json(run, stream=True)
    else:
        out.line(outcome(run, run.promoted_candidate_id[:12]))
    return ExitCode.OK if run.status == pb.RUN_STATUS_SUCCEEDED else ExitCode.FAILED


def runs_lines(runs: list[pb.Run]) -> list[str]:
    rows = [
        [
            run.run_id, RUN_STATUS.get(run.status, "?"), run.trigger,
            str(run.iterations), str(run.accepted), str(run.frontier_size),
            f"{run.best_val_score:.3f}", str(run.metric_calls), f"${run.cost_usd:.4f}",
            run.promoted_candidate_id[:12] if run.promoted else "-", local_time(run.started_at),
        ]
        for run in runs
    ]
    headers = [
        "RUN", "STATUS", "TRIGGER", "ITER", "ACCEPTED", "FRONTIER", "BEST VAL", "CALLS", "COST",
        "PROMOTED", "STARTED",
    ]
    lines = render_table(headers, rows, right={3, 4, 5, 6, 7, 8})
    # Why a round failed, could not decide or did not promote is what its user needs to read.
    lines += [f"{run.run_id}: {run.message}" for run in runs
              if run.message and not run.promoted and run.status in _FINISHED]
    return lines


def _runs(args: argparse.Namespace, inv: Invocation) -> int:
    response = inv.client().list_runs(args.user, args.program, limit=args.limit)
    out = inv.output
    if out.json_mode:
        out.json(response)
    elif not response.runs:
        out.line(f"no runs yet; start one with `gepad evolve {args.user} {args.program}`")
    else:
        out.lines(runs_lines(list(response.runs)))
    return ExitCode.OK


def frontier_lines(frontier: pb.GetFrontierResponse) -> list[str]:
    short = short_ids(e.candidate.id for e in frontier.entries)
    rows = []
    for entry in sorted(frontier.entries, key=lambda e: -e.val_score):
        dims = ", ".join(f"{k} {v:.2f}" for k, v in sorted(entry.dimension_scores.items()))
        served = "◀ served" if entry.candidate.id == frontier.served_candidate_id else ""
        rows.append([
            short[entry.candidate.id], CANDIDATE_ORIGIN.get(entry.candidate.origin, "?"),
            f"{entry.val_score:.3f}", str(entry.instances_won),
            f"{entry.val_coverage}/{frontier.val_examples}", dims or "-", served,
        ])
    headers = ["CANDIDATE", "ORIGIN", "VAL", "WON", "COVERAGE", "DIMENSIONS", ""]
    return render_table(headers, rows, right={2, 3, 4})


def _frontier(args: argparse.Namespace, inv: Invocation) -> int:
    frontier = inv.client().get_frontier(args.user, args.program)
    out = inv.output
    if out.json_mode:
        out.json(frontier)
    elif not frontier.entries:
        out.line("the frontier is empty: no evolution round has scored candidates yet")
    else:
        out.line(f"{len(frontier.entries)} candidates on the frontier over "
                 f"{frontier.val_examples} val examples")
        out.lines(frontier_lines(frontier))
    return ExitCode.OK
