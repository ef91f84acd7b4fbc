"""How ``gepad evolve --wait`` shows a run: a redrawn bar on a terminal, one line per event
otherwise (logs, pipes), and a closing sentence on the outcome."""

from __future__ import annotations

import shutil
from typing import TextIO

from gepad.cli.text import plural
from gepad.enums import RUN_STATUS
from gepad.v1 import gepad_pb2 as pb

__all__ = ["ProgressView", "budget_fraction", "event_line", "outcome", "stats"]



def budget_fraction(run: pb.Run, max_iterations: int = 0) -> float | None:
    """Share of the round's budget spent: metric calls when capped, else iterations when capped."""
    if run.status in (pb.RUN_STATUS_SUCCEEDED, pb.RUN_STATUS_FAILED, pb.RUN_STATUS_CANCELLED):
        return 1.0  # a round that ended is done, whatever share of its budget it needed
    if run.budget.max_metric_calls_per_round > 0:
        return min(run.metric_calls / run.budget.max_metric_calls_per_round, 1.0)
    if max_iterations > 0:
        return min(run.iterations / max_iterations, 1.0)
    return None


def stats(run: pb.Run, max_iterations: int = 0) -> str:
    calls = f"calls {run.metric_calls}"
    if run.budget.max_metric_calls_per_round > 0:
        calls += f"/{run.budget.max_metric_calls_per_round}"
    iterations = f"iter {run.iterations}" + (f"/{max_iterations}" if max_iterations else "")
    parts = [
        iterations,
        calls,
        f"accepted {run.accepted}",
        f"frontier {run.frontier_size}",
        f"best val {run.best_val_score:.3f}",
    ]
    return "  ".join(parts)


def event_line(progress: pb.RunProgress, max_iterations: int = 0) -> str:
    line = f"{progress.event or 'update':<9} {stats(progress.run, max_iterations)}"
    return f"{line}  — {progress.detail}" if progress.detail else line


def bar_line(progress: pb.RunProgress, width: int, max_iterations: int = 0) -> str:
    text = stats(progress.run, max_iterations)
    fraction = budget_fraction(progress.run, max_iterations)
    if fraction is None:
        return f"{progress.event:<9} {text}"[:width]
    cells = max(width - len(text) - 8, 10)
    filled = round(fraction * cells)
    bar = "█" * filled + "░" * (cells - filled)
    return f"{bar} {fraction:4.0%}  {text}"[:width]


def outcome(run: pb.Run, short_id: str = "") -> str:
    status = RUN_STATUS.get(run.status, "unknown")
    if run.status == pb.RUN_STATUS_FAILED and run.message:
        # Why it failed is what the reader needs; the counters say how far it got.
        why = run.message if run.message.startswith("failed") else f"failed: {run.message}"
        return (f"run {run.run_id} {why} ({plural(run.iterations, 'iteration')}, "
                f"{plural(run.llm_calls, 'LLM call')}, ${run.cost_usd:.4f})")
    summary = (
        f"run {run.run_id} {status}: {plural(run.iterations, 'iteration')}, "
        f"{run.accepted} accepted, frontier {run.frontier_size}, "
        f"best val {run.best_val_score:.3f}, {plural(run.llm_calls, 'LLM call')}, "
        f"${run.cost_usd:.4f}"
    )
    if run.promoted:
        summary += f"; promoted {short_id or run.promoted_candidate_id} to served"
    elif run.status == pb.RUN_STATUS_SUCCEEDED:
        summary += "; nothing promoted"
    if run.message:
        summary += f" ({run.message})"
    return summary


class ProgressView:
    """Draws progress events on ``out``: a bar redrawn in place on a TTY, lines elsewhere."""

    def __init__(self, out: TextIO, *, tty: bool, max_iterations: int = 0) -> None:
        self.out = out
        self.tty = tty
        self.max_iterations = max_iterations
        self._drawn = False

    def update(self, progress: pb.RunProgress) -> None:
        if not self.tty:
            print(event_line(progress, self.max_iterations), file=self.out, flush=True)
            return
        width = shutil.get_terminal_size((100, 24)).columns - 1
        # Events that change the story (accepted, promoted, ...) stay on screen above the bar.
        if progress.event not in ("iteration", "started", "finished", ""):
            self._clear()
            print(event_line(progress, self.max_iterations)[:width], file=self.out)
        self.out.write("\r" + bar_line(progress, width, self.max_iterations) + "\x1b[K")
        self.out.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self.out.write("\r\x1b[K")

    def close(self) -> None:
        if self.tty and self._drawn:
            self.out.write("\n")
            self.out.flush()
        self._drawn = False
