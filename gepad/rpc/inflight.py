"""How many bytes of feedback the daemon holds at once, across every ingest call.

A batch RPC holds one message at a time (it reads the next only after answering), so gRPC's flow
control slows a fast sender; a legacy StreamFeedback holds its whole stream until it commits. Both
reserve what they hold here first, and a reservation that would pass the limit is refused with
RESOURCE_EXHAUSTED naming it, before anything of that message is validated or stored.
"""

from __future__ import annotations

from gepad.errors import ResourceExhausted

__all__ = ["InflightBytes", "Reservation"]


class InflightBytes:
    """The daemon-wide count (one event loop touches it, so no lock)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def reservation(self) -> Reservation:
        return Reservation(self)


class Reservation:
    """What one call holds; it grows as a stream's messages arrive and is released once, when
    the call has committed or failed."""

    def __init__(self, budget: InflightBytes) -> None:
        self._budget = budget
        self.bytes = 0

    def add(self, n: int) -> None:
        budget = self._budget
        if budget.held + n > budget.limit:
            mine = f" (this call holds {self.bytes})" if self.bytes else ""
            raise ResourceExhausted(
                f"ingest_max_bytes: the daemon holds at most {budget.limit} bytes of feedback "
                f"at once across all calls; {budget.held} are held now{mine} and this message "
                f"has {n}. Retry with backoff, or send smaller batches"
            )
        budget.held += n
        self.bytes += n

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self._budget.held -= self.bytes
        self.bytes = 0
