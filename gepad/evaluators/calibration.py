"""How far an evaluator agrees with people: the figures, and the status they earn.

Each labelled output gives a pair (the person said it fails, the evaluator says it fails). The
positive class is "fails": TPR is the share of the outputs people rejected that the evaluator
flags, TNR the share of the outputs people accepted that it passes. Matthews correlation (MCC) is
the headline because it stays honest when one class is rare (an evaluator that passes everything
scores 0, not the share of accepted outputs); Cohen's kappa stands beside it. A slice with one
class only (people accepted everything, or the evaluator said the same of everything) has no
correlation: it is reported as degenerate, with why, never as a number.

An evaluator's score is 0..1; it "says fails" below its operating point. People reject an
output for one thing wrong, while a judge may give it 0.8 for the same output, so a fixed 0.5
would measure the threshold rather than the judge: the point is chosen on the labels outside the
held-out slice (``operating_point``) and the figures are measured on the held-out slice with it.

Status: ``gating`` (MCC >= 0.6: may decide promotion), ``advisory`` (0.4..0.6, or too few
labels to tell: steers the search, decides only at cold start), ``off`` (< 0.4 on at least
``min_class`` labels of each class: not used).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_POINT",
    "Calibration",
    "Status",
    "Thresholds",
    "calibrate",
    "operating_point",
    "status_for",
]

Status = Literal["gating", "advisory", "off"]
DEFAULT_POINT = 0.5  # the operating point when the derivation labels cannot choose one


@dataclass(frozen=True, slots=True)
class Thresholds:
    gating: float = 0.6
    advisory: float = 0.4
    min_n: int = 10  # fewer held-out labels than this say too little: advisory at most
    # Fewer held-out labels of one class than this (people accepted two outputs, say) cannot
    # turn an evaluator off: one verdict on them swings MCC below any threshold. They can still
    # show it gating, which takes getting the rare class right as well as the common one.
    min_class: int = 3


@dataclass(frozen=True, slots=True)
class Calibration:
    tp: int = 0  # people said it fails, the evaluator flags it
    fp: int = 0  # people accepted it, the evaluator flags it
    tn: int = 0
    fn: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def degenerate(self) -> str:
        """Why no correlation can be measured on this slice; empty when it can."""
        if self.n == 0:
            return "no labelled outputs"
        if self.tp + self.fn == 0:
            return "people accepted every labelled output (no failures to find)"
        if self.fp + self.tn == 0:
            return "people rejected every labelled output (no passes to keep)"
        if self.tp + self.fp == 0:
            return "the evaluator passed every output"
        if self.tn + self.fn == 0:
            return "the evaluator flagged every output"
        return ""

    @property
    def mcc(self) -> float | None:
        if self.degenerate:
            return None
        tp, fp, tn, fn = self.tp, self.fp, self.tn, self.fn
        denominator = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return (tp * tn - fp * fn) / denominator

    @property
    def kappa(self) -> float | None:
        if self.degenerate:
            return None
        n = self.n
        observed = (self.tp + self.tn) / n
        chance = ((self.tp + self.fp) * (self.tp + self.fn)
                  + (self.tn + self.fn) * (self.tn + self.fp)) / (n * n)
        return (observed - chance) / (1.0 - chance)

    @property
    def tpr(self) -> float | None:
        positives = self.tp + self.fn
        return self.tp / positives if positives else None

    @property
    def tnr(self) -> float | None:
        negatives = self.tn + self.fp
        return self.tn / negatives if negatives else None

    @property
    def disagreements(self) -> int:
        return self.fp + self.fn

    def to_dict(self) -> dict[str, int]:
        return {"tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn}


def calibrate(pairs: Iterable[tuple[bool, bool]]) -> Calibration:
    """The confusion counts of (person says fails, evaluator says fails) pairs."""
    tp = fp = tn = fn = 0
    for human, evaluator in pairs:
        if human and evaluator:
            tp += 1
        elif evaluator:
            fp += 1
        elif human:
            fn += 1
        else:
            tn += 1
    return Calibration(tp, fp, tn, fn)


def status_for(calibration: Calibration, thresholds: Thresholds) -> tuple[Status, str]:
    """The status a calibration earns, and why, in words."""
    mcc = calibration.mcc
    if mcc is None:
        return "advisory", f"not measurable: {calibration.degenerate}"
    figure = f"MCC {mcc:.2f} on {calibration.n} held-out labels"
    if calibration.n < thresholds.min_n:
        return "advisory", f"{figure}: fewer than the {thresholds.min_n} needed to gate"
    if mcc >= thresholds.gating:
        return "gating", f"{figure} >= {thresholds.gating}"
    if mcc >= thresholds.advisory:
        return "advisory", f"{figure} is below {thresholds.gating}"
    failures = calibration.tp + calibration.fn
    passes = calibration.fp + calibration.tn
    if min(failures, passes) < thresholds.min_class:
        few = f"{failures} rejected" if failures < passes else f"{passes} accepted"
        return "advisory", (f"{figure} is below {thresholds.advisory}, but only {few}: fewer "
                            f"than the {thresholds.min_class} of each needed to turn it off")
    return "off", f"{figure} is below {thresholds.advisory}: not used"


def operating_point(scored: Iterable[tuple[bool, float]]) -> float:
    """The score below which an evaluator best agrees with people that an output fails, from
    (person says fails, score) pairs: the cut between two observed scores with the highest MCC
    (ties: the cut nearest DEFAULT_POINT). DEFAULT_POINT when no cut is measurable."""
    pairs = list(scored)
    values = sorted({score for _, score in pairs})
    cuts = [(a + b) / 2 for a, b in itertools.pairwise(values)]
    best: tuple[float, float] | None = None
    for cut in sorted(cuts, key=lambda c: abs(c - DEFAULT_POINT)):
        mcc = calibrate((fails, score < cut) for fails, score in pairs).mcc
        if mcc is not None and (best is None or mcc > best[0]):
            best = (mcc, cut)
    return DEFAULT_POINT if best is None else best[1]
