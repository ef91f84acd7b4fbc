"""Delays between reconnection attempts of a watch stream."""

from __future__ import annotations

__all__ = ["Backoff"]


class Backoff:
    """Exponential delays from ``initial`` up to ``maximum``; ``reset`` after a success."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, factor: float = 2.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial
