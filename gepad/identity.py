"""Stable identities of examples and their data split (candidate ids are the engine's:
``gepad.engine.candidate_id``).

They are content hashes so that every process (daemon, engine, a resumed round) derives the same id
for the same thing without coordination.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from gepad.engine.model import Split, stable_digest

__all__ = ["Split", "canonical_messages", "example_id", "example_id_of", "split_of"]

# stable_digest's encoding: sorted keys, no spaces, UTF-8 as is.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

# Out of 100 hash buckets: 0-59 train, 60-84 val, 85-99 gate.
_TRAIN_BELOW = 60
_VAL_BELOW = 85


def example_id(user_id: str, program: str, messages: Iterable[Mapping[str, str]]) -> str:
    """Events about the same input (for the same user and program) fold into one example."""
    canonical = [{"role": m["role"], "content": m["content"]} for m in messages]
    return "x" + stable_digest({"u": user_id, "p": program, "m": canonical})[:23]


def canonical_messages(messages: Iterable[tuple[str, str]]) -> str:
    """The (role, content) messages as the JSON ``example_id`` hashes them: also a valid stored
    form of an example's input, so ingest encodes them once."""
    return _CANONICAL.encode([{"role": role, "content": content} for role, content in messages])


def example_id_of(user_id: str, program: str, messages_json: str) -> str:
    """``example_id`` from ``canonical_messages``' output: the same id, without encoding the
    messages a second time (the object's keys m, p, u are in sorted order already)."""
    blob = (f'{{"m":{messages_json},"p":{_CANONICAL.encode(program)},'
            f'"u":{_CANONICAL.encode(user_id)}}}')
    return "x" + hashlib.sha256(blob.encode("utf-8")).hexdigest()[:23]


def split_of(example: str) -> Split:
    bucket = int(hashlib.sha256(example.encode()).hexdigest()[:8], 16) % 100
    if bucket < _TRAIN_BELOW:
        return "train"
    if bucket < _VAL_BELOW:
        return "val"
    return "gate"
