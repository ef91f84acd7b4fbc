"""Confidence bounds on a mean of paired differences from a handful of examples.

Two decisions compare two prompts on the same examples: the release gate (candidate minus served,
per gate example) and progressive val scoring (a child minus the best, per val example scored so
far). Pairing removes what the examples themselves contribute (an easy example is easy for
both), so what is left is the spread of the per-example differences, which is all a bound needs.

The bound is Student's t on the mean of the differences, with three additions for small samples:

- The spread may be pooled from a second sample of differences between the same two prompts
  (`spread_from`), each sample centred on its own mean. Only the spread is taken from it, never
  its mean: for the gate that sample is val, on which the candidate was *chosen* as the best of
  the pool, so its val lead is inflated by the luck of that choice by an amount nothing here can
  know; the spread of its differences around their own mean is not shifted by that choice.
- One pseudo-example of standard deviation `PRIOR_SD` joins the pooled spread, so that three
  examples that happen to agree (a spread of 0) cannot claim certainty; any real sample soon
  outweighs it.
- When the examples are a random sample without replacement from a finite population (val
  scored in a random order) and the bound is on the population's mean, the finite-population
  correction shrinks the bound to nothing once every example is scored.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .scores import FloatArray

# The largest standard deviation a score in 0..1 can have (half the range, Popoviciu): the spread
# of a difference assumed when nothing else is known, with the weight of one example.
PRIOR_SD = 0.5
PRIOR_WEIGHT = 1
# Above this many degrees of freedom the Cornish-Fisher expansion is exact to about 1e-6.
_EXPANSION_DF = 30


@dataclass(frozen=True, slots=True)
class MeanBounds:
    """One-sided bounds on the mean difference, each holding with probability `confidence`."""

    mean: float
    lower: float
    upper: float
    n: int  # differences in the sample
    sd: float  # the pooled per-example spread used
    df: int  # its degrees of freedom
    confidence: float


def mean_bounds(
    diffs: Sequence[float] | FloatArray,
    confidence: float,
    *,
    spread_from: Sequence[float] | FloatArray = (),
    population: int | None = None,
) -> MeanBounds:
    """Bounds on the mean of `diffs` (at least one), or on its population's mean when `population`
    (the number of examples `diffs` were drawn from at random, without replacement) is given."""
    sample = np.asarray(diffs, dtype=np.float64)
    extra = np.asarray(spread_from, dtype=np.float64)
    n = int(sample.size)
    if n == 0:
        raise ValueError("no differences to bound")
    if not 0.5 <= confidence < 1.0:
        raise ValueError("confidence must be in [0.5, 1)")
    mean = float(sample.mean())
    squares = _centred_squares(sample) + _centred_squares(extra)
    df = PRIOR_WEIGHT + (n - 1) + max(int(extra.size) - 1, 0)
    sd = math.sqrt((PRIOR_WEIGHT * PRIOR_SD**2 + squares) / df)
    correction = 1.0 if population is None else max(0.0, 1.0 - n / population)
    half = student_t_quantile(confidence, df) * sd * math.sqrt(correction / n)
    return MeanBounds(mean, mean - half, mean + half, n, sd, df, confidence)


def _centred_squares(values: FloatArray) -> float:
    if values.size < 2:
        return 0.0
    return float(((values - values.mean()) ** 2).sum())


# Races ask for the same few (confidence, df) pairs wave after wave.
@functools.lru_cache(maxsize=512)
def student_t_quantile(p: float, df: int) -> float:
    """The `p` quantile (p >= 0.5) of Student's t with `df` degrees of freedom.

    Exact for few degrees of freedom (the closed-form distribution function, inverted by
    bisection), a Cornish-Fisher expansion around the normal quantile above `_EXPANSION_DF`.
    """
    if df < 1:
        raise ValueError("df must be >= 1")
    if not 0.5 <= p < 1.0:
        raise ValueError("p must be in [0.5, 1)")
    if p == 0.5:
        return 0.0
    if df > _EXPANSION_DF:
        return _cornish_fisher(NormalDist().inv_cdf(p), df)
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _t_cdf(t: float, df: int) -> float:
    """P(T <= t) for t >= 0, from the finite series for integer df (Abramowitz & Stegun 26.7.3
    and 26.7.4, in terms of theta = atan(t / sqrt(df)))."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 1:
        total, term = 0.0, 1.0
        if df > 1:
            total = term
            for k in range(1, (df - 1) // 2):
                term *= c2 * (2 * k) / (2 * k + 1)
                total += term
        inside = (2 / math.pi) * (theta + math.sin(theta) * math.cos(theta) * total)
    else:
        total, term = 1.0, 1.0
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        inside = math.sin(theta) * total
    return 0.5 + 0.5 * inside


def _cornish_fisher(z: float, df: int) -> float:
    """Student's t quantile from the normal quantile `z` (Abramowitz & Stegun 26.7.5)."""
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4
