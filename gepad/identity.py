"""Stable identities of examples and their data split (candidate ids are the engine's:
``gepad.engine.candidate_id``).

They are content hashes so that every process (daemon, engine, a resumed round) derives the same id
for the same thing without coordination.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from gepad.engine.model import Split, stable_digest

__all__ = ["Split", "example_id", "split_of"]

# Out of 100 hash buckets: 0-59 train, 60-84 val, 85-99 gate.
_TRAIN_BELOW = 60
_VAL_BELOW = 85


def example_id(user_id: str, program: str, messages: Iterable[Mapping[str, str]]) -> str:
    """Events about the same input (for the same user and program) fold into one example."""
    canonical = [{"role": m["role"], "content": m["content"]} for m in messages]
    return "x" + stable_digest({"u": user_id, "p": program, "m": canonical})[:23]


def split_of(example: str) -> Split:
    bucket = int(hashlib.sha256(example.encode()).hexdigest()[:8], 16) % 100
    if bucket < _TRAIN_BELOW:
        return "train"
    if bucket < _VAL_BELOW:
        return "val"
    return "gate"
