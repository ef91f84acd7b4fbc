from __future__ import annotations

import numpy as np

from gepad.engine import SamplerState, next_minibatch


def test_each_epoch_covers_train_once_and_is_reproducible() -> None:
    ids = [f"t{i}" for i in range(9)]
    rng = np.random.default_rng(3)
    state = SamplerState()
    seen: list[str] = []
    for _ in range(3):
        batch, state = next_minibatch(state, ids, 3, rng)
        seen += batch
    assert sorted(seen) == ids
    assert state.epoch == 1
    rng2 = np.random.default_rng(3)
    state2 = SamplerState()
    again: list[str] = []
    for _ in range(3):
        batch, state2 = next_minibatch(state2, ids, 3, rng2)
        again += batch
    assert again == seen


def test_new_examples_join_at_next_epoch_boundary() -> None:
    ids = [f"t{i}" for i in range(6)]
    rng = np.random.default_rng(0)
    batch, state = next_minibatch(SamplerState(), ids, 3, rng)
    grown = sorted([*ids, "t9"])
    batch2, state = next_minibatch(state, grown, 3, rng)
    assert "t9" not in batch + batch2 and state.epoch == 1
    _batch3, state = next_minibatch(state, grown, 3, rng)
    assert state.epoch == 2  # new permutation drawn, including t9
    assert "t9" in state.order


def test_small_train_split_yields_whole_split() -> None:
    batch, _ = next_minibatch(SamplerState(), ["a", "b"], 5, np.random.default_rng(0))
    assert sorted(batch) == ["a", "b"]


def test_removed_examples_are_skipped() -> None:
    ids = [f"t{i}" for i in range(6)]
    rng = np.random.default_rng(0)
    _, state = next_minibatch(SamplerState(), ids, 2, rng)
    remaining = [e for e in ids if e != state.order[2]]
    batch, _ = next_minibatch(state, remaining, 2, rng)
    assert state.order[2] not in batch and len(batch) == 2
