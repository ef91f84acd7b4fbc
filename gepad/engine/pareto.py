"""The Pareto frontier over objectives (val instances, or instance × dimension pairs).

Definitions (the brute-force reference in the tests follows them literally):
- `obj[c, k]` is candidate c's score on objective k, NaN when unknown.
- c *wins* k when its score is known and within `TOL` of the best known score on k.
- d *dominates* c when d is known wherever c is, d >= c - TOL there, and d > c + TOL somewhere.
  Unknown scores never count for or against anyone.
- The frontier is every candidate that wins at least one objective and is dominated by no one;
  a member's sampling weight is the number of objectives it wins.

A dominator of a winner wins everything that winner wins, so only winners need pairwise checks,
and only pairs whose shared win count equals the dominated side's win count (one matmul).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .scores import FloatArray

TOL = 1e-9
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Frontier:
    members: IntArray  # row indices, ascending
    weights: IntArray  # objectives won, aligned with members
    wins: IntArray  # objectives won per row (all rows, before pruning)

    def __len__(self) -> int:
        return int(self.members.size)


def winners(obj: FloatArray) -> BoolArray:
    """Boolean matrix: c wins k."""
    known = ~np.isnan(obj)
    filled = np.where(known, obj, -np.inf)
    best = filled.max(axis=0, initial=-np.inf) if obj.shape[0] else np.full(obj.shape[1], -np.inf)
    out: BoolArray = known & (filled >= best - TOL)
    return out


def compute_frontier(obj: FloatArray) -> Frontier:
    n_rows = obj.shape[0]
    if n_rows == 0 or obj.shape[1] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Frontier(empty, empty, np.zeros(n_rows, dtype=np.int64))
    win = winners(obj)
    wins = win.sum(axis=1).astype(np.int64)
    cand = np.flatnonzero(wins > 0)
    dominated = np.zeros(cand.size, dtype=bool)
    if cand.size > 1:
        w = win[cand].astype(np.float32)
        shared = w @ w.T  # shared[d, c] = objectives both win
        np.fill_diagonal(shared, -1.0)
        d_idx, c_idx = np.nonzero(shared == wins[cand][np.newaxis, :].astype(np.float32))
        if d_idx.size:
            sub = obj[cand]
            sd, sc = sub[d_idx], sub[c_idx]
            c_known = ~np.isnan(sc)
            with np.errstate(invalid="ignore"):
                ge = ~c_known | (~np.isnan(sd) & (sd >= sc - TOL))
                gt = sd > sc + TOL
            dom_pairs = ge.all(axis=1) & gt.any(axis=1)
            dominated[np.unique(c_idx[dom_pairs])] = True
    members = cand[~dominated].astype(np.int64)
    return Frontier(members, wins[members], wins)


def best_scores(obj: FloatArray) -> FloatArray:
    known = ~np.isnan(obj)
    filled = np.where(known, obj, -np.inf)
    best: FloatArray = filled.max(axis=0, initial=-np.inf)
    return np.where(best == -np.inf, np.nan, best)
