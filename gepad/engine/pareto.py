"""The Pareto frontier over objectives (val instances, or instance × dimension pairs).

Definitions (the brute-force reference in the tests follows them literally):
- `obj[c, k]` is candidate c's score on objective k, NaN when unknown.
- c *wins* k when its score is known and within `TOL` of the best known score on k.
- d *dominates* c when d is known wherever c is, d >= c - TOL there, and d > c + TOL somewhere.
  Unknown scores never count for or against anyone.
- The frontier is every candidate that wins at least one objective and is dominated by no one;
  a member's sampling weight is the number of objectives it wins.

A dominator of a winner wins everything that winner wins, so only winners need pairwise checks,
only winners that are nowhere the sole winner can be dominated, and only pairs whose win sets
nest (a bitset test) need the full comparison.
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
    best = filled.max(axis=0, initial=-np.inf)
    out: BoolArray = known & (filled >= best - TOL)
    return out


def compute_frontier(obj: FloatArray) -> Frontier:
    win = winners(obj)
    wins = win.sum(axis=1).astype(np.int64)
    cand = np.flatnonzero(wins > 0)
    dominated = _dominated(obj, win, cand)
    members = cand[~dominated].astype(np.int64)
    return Frontier(members, wins[members], wins)


def _dominated(obj: FloatArray, win: BoolArray, cand: IntArray) -> BoolArray:
    """Which of the winners `cand` are dominated (aligned with `cand`).

    No BLAS on purpose: a threaded matmul on a busy two-core host was 20x slower than this.
    """
    out = np.zeros(cand.size, dtype=bool)
    if cand.size < 2:
        return out
    sub = win[cand]
    # A sole winner of some objective cannot be dominated: a dominator would win it too.
    sole = (sub & (sub.sum(axis=0) == 1)).any(axis=1)
    check = np.flatnonzero(~sole)
    if check.size == 0:
        return out
    # Win sets as 64-bit words; c's dominators are among the d whose win set contains c's.
    packed = np.packbits(sub, axis=1)
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    words = packed.view(np.uint64)
    outside = words[check][:, np.newaxis, :] & ~words[np.newaxis, :, :]
    # contains[i, d]: d wins everything check[i] wins.
    contains: BoolArray = np.logical_not(outside.any(axis=2))
    contains[np.arange(check.size), check] = False
    ci, d_idx = np.nonzero(contains)
    if ci.size == 0:
        return out
    c_idx = check[ci]
    values = obj[cand]
    sd, sc = values[d_idx], values[c_idx]
    c_known = ~np.isnan(sc)
    ge = ~c_known | (~np.isnan(sd) & (sd >= sc - TOL))
    gt = sd > sc + TOL
    dom_pairs = ge.all(axis=1) & gt.any(axis=1)
    out[np.unique(c_idx[dom_pairs])] = True
    return out

