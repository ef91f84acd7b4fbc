"""Calibration figures against hand-computed cases, and the status they earn."""

from __future__ import annotations

import pytest

from gepad.evaluators.calibration import (
    DEFAULT_POINT,
    Calibration,
    Thresholds,
    calibrate,
    operating_point,
    status_for,
)


def pairs(tp: int, fp: int, tn: int, fn: int) -> list[tuple[bool, bool]]:
    return ([(True, True)] * tp + [(False, True)] * fp + [(False, False)] * tn
            + [(True, False)] * fn)


def test_counts_each_kind_of_agreement() -> None:
    assert calibrate(pairs(4, 2, 3, 1)) == Calibration(tp=4, fp=2, tn=3, fn=1)


def test_mcc_and_kappa_match_hand_computed_values() -> None:
    # MCC = (4*3 - 2*1) / sqrt(6*5*5*4) = 10/sqrt(600); kappa: po 0.7, pe (6*5+4*5)/100 = 0.5.
    c = calibrate(pairs(4, 2, 3, 1))
    assert c.n == 10
    assert c.mcc == pytest.approx(10 / 600 ** 0.5)
    assert c.kappa == pytest.approx(0.4)
    assert c.tpr == pytest.approx(0.8)
    assert c.tnr == pytest.approx(0.6)


def test_symmetric_margins_give_equal_mcc_and_kappa() -> None:
    # (6*2 - 1*1) / sqrt(7*7*3*3) = 11/21; po 0.8, pe 0.58 -> 0.22/0.42 = 11/21.
    c = calibrate(pairs(6, 1, 2, 1))
    assert c.mcc == pytest.approx(11 / 21)
    assert c.kappa == pytest.approx(11 / 21)


def test_perfect_and_inverted_agreement() -> None:
    assert calibrate(pairs(5, 0, 5, 0)).mcc == pytest.approx(1.0)
    inverted = calibrate(pairs(0, 5, 0, 5))
    assert inverted.mcc == pytest.approx(-1.0)
    assert inverted.kappa == pytest.approx(-1.0)


@pytest.mark.parametrize(("counts", "why"), [
    ((0, 0, 0, 0), "no labelled outputs"),
    ((0, 3, 7, 0), "people accepted every labelled output"),
    ((6, 0, 0, 4), "people rejected every labelled output"),
    ((0, 0, 5, 5), "the evaluator passed every output"),
    ((5, 5, 0, 0), "the evaluator flagged every output"),
])
def test_one_class_is_degenerate_not_a_number(counts: tuple[int, int, int, int],
                                              why: str) -> None:
    c = calibrate(pairs(*counts))
    assert why in c.degenerate
    assert c.mcc is None
    assert c.kappa is None
    status, reason = status_for(c, Thresholds())
    assert status == "advisory"
    assert why in reason


def test_rates_without_a_class_are_absent() -> None:
    c = calibrate(pairs(0, 2, 3, 0))
    assert c.tpr is None
    assert c.tnr == pytest.approx(0.6)


def test_thresholds_switch_status() -> None:
    t = Thresholds(gating=0.6, advisory=0.4, min_n=10)
    assert status_for(calibrate(pairs(5, 0, 5, 0)), t)[0] == "gating"  # MCC 1.0
    assert status_for(calibrate(pairs(4, 2, 3, 1)), t)[0] == "advisory"  # MCC 0.41
    assert status_for(calibrate(pairs(3, 3, 2, 2)), t)[0] == "off"  # MCC -0.0
    # The same agreement decides differently under other thresholds.
    assert status_for(calibrate(pairs(4, 2, 3, 1)), Thresholds(gating=0.4))[0] == "gating"
    assert status_for(calibrate(pairs(4, 2, 3, 1)), Thresholds(advisory=0.5))[0] == "off"


def test_too_few_of_one_class_cannot_turn_an_evaluator_off() -> None:
    # 14 labels, but people accepted only two outputs: one verdict on them swings MCC from
    # "gating" to "off", so a low figure says too little to stop using the evaluator.
    t = Thresholds(min_n=10)
    for counts, few in (((10, 1, 1, 2), "2 accepted"), ((11, 2, 0, 1), "2 accepted"),
                        ((1, 2, 10, 1), "2 rejected")):
        status, reason = status_for(calibrate(pairs(*counts)), t)
        assert status == "advisory", counts
        assert reason.endswith(f"but only {few}: fewer than the 3 of each needed to turn it off")
    assert status_for(calibrate(pairs(8, 3, 0, 3)), t)[0] == "off"  # 3 accepted, all flagged
    # Getting the rare class right as well as the common one still earns gating.
    assert status_for(calibrate(pairs(12, 0, 2, 0)), t)[0] == "gating"


def test_too_few_labels_is_advisory_however_good() -> None:
    status, reason = status_for(calibrate(pairs(3, 0, 3, 0)), Thresholds(min_n=10))
    assert status == "advisory"
    assert "fewer than the 10" in reason


def test_the_operating_point_is_where_the_scores_best_separate_the_labels() -> None:
    # A judge that gives a rejected output 0.8 and an accepted one 0.95: 0.5 would flag nothing.
    scored = [(True, 0.8), (True, 0.75), (True, 0.85), (False, 0.95), (False, 1.0), (False, 0.9)]
    point = operating_point(scored)
    assert point == pytest.approx(0.875)
    assert calibrate((f, s < point) for f, s in scored).mcc == pytest.approx(1.0)


def test_without_a_measurable_cut_the_point_is_the_default() -> None:
    assert operating_point([]) == DEFAULT_POINT
    assert operating_point([(True, 0.3), (True, 0.7)]) == DEFAULT_POINT  # one class only
    assert operating_point([(True, 0.4), (False, 0.4)]) == DEFAULT_POINT  # one score only
