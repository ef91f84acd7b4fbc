"""How evolve --wait shows progress: pure formatting, no daemon."""

from __future__ import annotations

import io

from gepad.cli.commands.rounds import runs_lines
from gepad.cli.progress import ProgressView, bar_line, budget_fraction, event_line, outcome
from gepad.cli.table import render_table
from gepad.v1 import gepad_pb2 as pb


def run(**fields: object) -> pb.Run:
    fields.setdefault("run_id", "r1")
    r = pb.Run(**fields)  # type: ignore[arg-type]
    r.budget.max_metric_calls_per_round = 200
    return r


def test_budget_fraction_prefers_metric_calls_then_iterations() -> None:
    assert budget_fraction(run(metric_calls=50)) == 0.25
    uncapped = pb.Run(iterations=3)
    assert budget_fraction(uncapped, max_iterations=4) == 0.75
    assert budget_fraction(uncapped) is None


def test_event_line_and_bar_show_the_numbers_that_matter() -> None:
    progress = pb.RunProgress(
        run=run(iterations=3, metric_calls=50, accepted=1, frontier_size=2, best_val_score=0.734),
        event="accepted", detail="child beat parent 2.1 > 1.4",
    )
    line = event_line(progress)
    assert line.startswith("accepted")
    for part in ("iter 3", "calls 50/200", "accepted 1", "frontier 2", "best val 0.734",
                 "child beat parent"):
        assert part in line
    bar = bar_line(progress, 80)
    assert len(bar) <= 80 and "25%" in bar and "█" in bar and "░" in bar


def test_progress_view_redraws_on_a_tty_and_prints_lines_elsewhere() -> None:
    events = [
        pb.RunProgress(run=run(iterations=i, metric_calls=i * 10), event="iteration")
        for i in range(1, 4)
    ]
    plain = io.StringIO()
    view = ProgressView(plain, tty=False)
    for e in events:
        view.update(e)
    view.close()
    assert plain.getvalue().count("\n") == 3 and "\r" not in plain.getvalue()

    tty = io.StringIO()
    view = ProgressView(tty, tty=True)
    for e in events:
        view.update(e)
    view.close()
    assert tty.getvalue().count("\r") == 3 and tty.getvalue().count("\n") == 1


def test_outcome_says_what_was_promoted() -> None:
    promoted = run(status=pb.RUN_STATUS_SUCCEEDED, iterations=5, accepted=2, promoted=True,
                   promoted_candidate_id="7b1c22aa0001")
    assert "succeeded" in outcome(promoted) and "promoted 7b1c22aa0001" in outcome(promoted)
    # A failed run leads with why.
    failed = run(status=pb.RUN_STATUS_FAILED, message="failed: all 8 rollout calls failed; x",
                 iterations=1, llm_calls=8)
    assert outcome(failed) == (f"run {failed.run_id} failed: all 8 rollout calls failed; x "
                               "(1 iteration, 8 LLM calls, $0.0000)")
    crashed = run(status=pb.RUN_STATUS_FAILED, message="ValueError: boom")
    assert outcome(crashed).startswith(f"run {crashed.run_id} failed: ValueError: boom (")


def test_table_aligns_numbers_right() -> None:
    assert render_table(["NAME", "N"], [["a", "1"], ["long", "100"]], right={1}) == [
        "NAME    N",
        "a       1",
        "long  100",
    ]


def test_the_bar_of_a_round_that_ended_is_full_whatever_it_spent() -> None:
    # A round that stops early (converged, nothing to learn, no decision) spent 9% of its calls.
    ended = pb.RunProgress(run=run(status=pb.RUN_STATUS_SUCCEEDED, metric_calls=18),
                           event="finished")
    assert budget_fraction(ended.run) == 1.0
    assert "100%" in bar_line(ended, 100) and "░" not in bar_line(ended, 100)
    running = pb.RunProgress(run=run(status=pb.RUN_STATUS_RUNNING, metric_calls=18))
    assert "9%" in bar_line(running, 100)


def test_runs_says_why_each_round_did_not_promote() -> None:
    lines = runs_lines([
        run(run_id="r1", status=pb.RUN_STATUS_SUCCEEDED, promoted=True, message="promoted c1"),
        run(run_id="r2", status=pb.RUN_STATUS_SUCCEEDED,
            message="not promoted: gate mean +0.01 is within the noise"),
        run(run_id="r3", status=pb.RUN_STATUS_FAILED, message="failed: OPENAI_API_KEY not set"),
        run(run_id="r4", status=pb.RUN_STATUS_RUNNING, message="started by admin"),
    ])
    notes = [line for line in lines if line.startswith("r") and ": " in line]
    assert notes == ["r2: not promoted: gate mean +0.01 is within the noise",
                     "r3: failed: OPENAI_API_KEY not set"]
