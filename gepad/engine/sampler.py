"""Epoch-shuffled train minibatches with persisted sampler state.

Each epoch is a fresh permutation of the train ids known at the epoch boundary, so examples that
arrive mid-epoch join at the next boundary and a resumed run draws the same batches. A batch never
straddles two epochs: the remainder of an epoch that cannot fill a batch is skipped (it is
reshuffled into later epochs), and a train split smaller than the batch size yields the whole split.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class SamplerState:
    epoch: int = 0
    order: tuple[str, ...] = ()
    position: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "order": list(self.order), "position": self.position}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplerState:
        return cls(int(data["epoch"]), tuple(data["order"]), int(data["position"]))


def next_minibatch(
    state: SamplerState,
    train_ids: Sequence[str],
    size: int,
    rng: np.random.Generator,
    present: Container[str] | None = None,
) -> tuple[tuple[str, ...], SamplerState]:
    """The next batch of train ids and the sampler state after it.

    `train_ids` must be sorted; `present` is a fast membership view of it (examples removed
    since the epoch began are skipped).
    """
    if not train_ids:
        return (), state
    current: Container[str] = present if present is not None else set(train_ids)
    want = min(size, len(train_ids))
    while True:
        batch: list[str] = []
        pos = state.position
        while pos < len(state.order) and len(batch) < want:
            ex = state.order[pos]
            pos += 1
            if ex in current:
                batch.append(ex)
        if len(batch) == want:
            return tuple(batch), replace(state, position=pos)
        order = tuple(train_ids[int(i)] for i in rng.permutation(len(train_ids)))
        state = SamplerState(epoch=state.epoch + 1, order=order, position=0)
