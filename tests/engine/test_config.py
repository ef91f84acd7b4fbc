from __future__ import annotations

import pytest

from gepad.engine import EngineConfig


def test_val_scoring_is_progressive_unless_asked_for_in_full() -> None:
    assert EngineConfig().val_scoring == "progressive"
    assert EngineConfig(val_scoring="full").val_scoring == "full"
    with pytest.raises(ValueError, match=r"^val_scoring must be 'progressive' or 'full'$"):
        EngineConfig(val_scoring="half")  # type: ignore[arg-type]


@pytest.mark.parametrize("confidence", [0.49, 1.0])
def test_a_race_confidence_outside_half_to_one_is_refused(confidence: float) -> None:
    with pytest.raises(ValueError, match=r"^progressive_confidence must be in \[0.5, 1\)$"):
        EngineConfig(progressive_confidence=confidence)
