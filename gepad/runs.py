"""A round's run record: what started it, what it did and spent, and how it ended.

The round that owns a run updates it in place; everyone else (watchers, GetRun, the store) gets a
copy. ``max_iterations`` and ``seed`` are the Evolve request's own knobs, kept so that a round
resumed after a restart runs exactly as asked.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from gepad import stored_json
from gepad.programs import BudgetCaps

__all__ = [
    "RUN_STATUSES",
    "TERMINAL",
    "Run",
    "RunProgress",
    "RunStatus",
    "run_from_json",
    "run_to_json",
]

RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
RUN_STATUSES: tuple[RunStatus, ...] = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL: frozenset[RunStatus] = frozenset({"succeeded", "failed", "cancelled"})


@dataclass
class Run:
    run_id: str
    user_id: str
    program: str
    trigger: str
    status: RunStatus = "queued"
    iterations: int = 0
    accepted: int = 0
    merges: int = 0
    frontier_size: int = 0
    best_val_score: float = 0.0
    metric_calls: int = 0
    llm_calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    budget: BudgetCaps = field(default_factory=BudgetCaps)
    promoted: bool = False
    promoted_candidate_id: str = ""
    message: str = ""
    started_at: float = 0.0
    finished_at: float | None = None
    max_iterations: int = 0
    seed: int = 0

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def copy(self) -> Run:
        return replace(self)


@dataclass(frozen=True)
class RunProgress:
    """One thing a round reports while it runs: an event name ("started", "accepted",
    "promoted"...), its detail, and the run as it stood then."""

    run: Run
    event: str
    detail: str = ""


def run_to_json(run: Run) -> str:
    return json.dumps(asdict(run), ensure_ascii=False)


def run_from_json(text: str, *, status: str, started_at: float, finished_at: float | None) -> Run:
    """A stored run; status and times come from their own columns."""
    data = json.loads(text)
    # Before plain records the request's knobs sat under "_overrides".
    data.update(data.pop("_overrides", None) or {})
    values: dict[str, Any] = {}
    for name in ("run_id", "user_id", "program", "trigger", "message",
                 "promoted_candidate_id"):
        values[name] = str(stored_json.field(data, name, ""))
    for name in ("iterations", "accepted", "merges", "frontier_size", "metric_calls",
                 "llm_calls", "tokens", "max_iterations", "seed"):
        values[name] = int(stored_json.number(data, name))
    for name in ("best_val_score", "cost_usd"):
        values[name] = stored_json.number(data, name)
    values["promoted"] = bool(data.get("promoted", False))
    budget = data.get("budget") or {}
    values["budget"] = stored_json.settings(BudgetCaps, budget)
    if status not in RUN_STATUSES:
        raise ValueError(f"run {values['run_id']!r} has an unknown status {status!r}")
    return Run(**values, status=status, started_at=started_at,
               finished_at=finished_at)
