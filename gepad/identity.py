"""Stable identities of examples and their data split (candidate ids are the engine's:
``gepad.engine.candidate_id``).

They are content hashes so that every process (daemon, engine, a resumed round) derives the same id
for the same thing without coordination.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Literal

__all__ = ["Split", "example_id", "split_of"]

Split = Literal["train", "val", "gate"]

# Out of 100 hash buckets: 0-59 train, 60-84 val, 85-99 gate.
_TRAIN_BELOW = 60
_VAL_BELOW = 85


def _digest(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def example_id(user_id: str, program: str, messages: Iterable[Mapping[str, str]]) -> str:
    """Events about the same input (for the same user and program) fold into one example."""
    canonical = [{"role": m["role"], "content": m["content"]} for m in messages]
    return "x" + _digest({"u": user_id, "p": program, "m": canonical})[:23]


def split_of(example: str) -> Split:
    bucket = int(hashlib.sha256(example.encode()).hexdigest()[:8], 16) % 100
    if bucket < _TRAIN_BELOW:
        return "train"
    if bucket < _VAL_BELOW:
        return "val"
    return "gate"
