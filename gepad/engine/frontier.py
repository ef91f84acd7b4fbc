"""Frontier queries over the val score matrix: what the engine samples and GetFrontier reports."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import FrontierKind
from .model import Candidate
from .pareto import BoolArray, Frontier, compute_frontier, winners
from .scores import FloatArray, ScoreMatrix
from .state import EngineState


def objectives(matrix: ScoreMatrix, kind: FrontierKind) -> FloatArray:
    if kind == "instance" or not matrix.dimensions:
        return matrix.aggregate
    return np.concatenate([matrix.dimension(d) for d in matrix.dimensions], axis=1)


def frontier_of(matrix: ScoreMatrix, kind: FrontierKind = "instance") -> Frontier:
    """The frontier, cached on the matrix until it is next written to."""
    key = f"frontier:{kind}"
    hit = matrix.cached(key)
    if isinstance(hit, Frontier):
        return hit
    front = compute_frontier(objectives(matrix, kind))
    matrix.remember(key, front)
    return front


@dataclass(frozen=True, slots=True)
class FrontierEntry:
    candidate: Candidate
    val_score: float  # mean aggregate over the val examples it is scored on (NaN if none)
    instances_won: int  # val examples on which it is among the best
    val_coverage: int
    dimension_scores: dict[str, float]
    on_frontier: bool


def frontier_report(
    state: EngineState, kind: FrontierKind = "instance", *, everyone: bool = False
) -> list[FrontierEntry]:
    """Frontier members (or every candidate with `everyone`), best val score first."""
    matrix = state.scores
    agg = matrix.aggregate
    front = frontier_of(matrix, kind)
    members = set(int(m) for m in front.members)
    rows = range(len(state.candidates)) if everyone else sorted(members)
    won = winners(agg).sum(axis=1) if agg.size else np.zeros(len(state.candidates), dtype=int)
    entries: list[FrontierEntry] = []
    for r in rows:
        known = ~np.isnan(agg[r]) if agg.shape[1] else np.zeros(0, dtype=bool)
        coverage = int(known.sum())
        dims: dict[str, float] = {}
        for d in matrix.dimensions:
            col = matrix.dimension(d)[r]
            if (~np.isnan(col)).any():
                dims[d] = float(np.nanmean(col))
        entries.append(
            FrontierEntry(
                candidate=state.candidates[r],
                val_score=float(agg[r][known].mean()) if coverage else float("nan"),
                instances_won=int(won[r]) if len(won) else 0,
                val_coverage=coverage,
                dimension_scores=dims,
                on_frontier=r in members,
            )
        )
    entries.sort(key=lambda e: (-(e.val_score if e.val_score == e.val_score else -1.0),
                                state.index(e.candidate.id)))
    return entries


def best_by_val(state: EngineState) -> Candidate | None:
    """The candidate with the best val mean among those scored on every val example."""
    row = best_full_row(state.scores.aggregate)
    return None if row is None else state.candidates[row]


def best_full_row(agg: FloatArray, rows: BoolArray | None = None) -> int | None:
    """The row (among `rows`, default all) with the best val mean among those scored on every
    val example, or None when there is none."""
    if agg.shape[1] == 0:
        return None
    full = ~np.isnan(agg).any(axis=1)
    if rows is not None:
        full &= rows
    if not full.any():
        return None
    means = np.where(full, np.nan_to_num(agg).mean(axis=1), -np.inf)
    # argmax returns the first maximum: ties go to the older candidate (less churn).
    return int(np.argmax(means))
