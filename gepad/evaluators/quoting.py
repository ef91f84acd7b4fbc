"""Quoting user text to a model as data: a fence word that occurs in none of the quoted texts, so
nothing quoted can close its own block and pose as instructions."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["fence_for"]


def fence_for(texts: Sequence[str]) -> str:
    seed = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()
    for i in range(len(seed) - 8):
        fence = f"DATA-{seed[i : i + 8]}"
        if not any(fence in t for t in texts):
            return fence
    return f"DATA-{seed}"
