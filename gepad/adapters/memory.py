"""`MemoryTarget`: a delivery target in memory, for tests of the host and of whatever wires it.
It records what it was given, fails when told to, and can hold a delivery until released."""

from __future__ import annotations

import anyio

from gepad.adapters.protocols import Delivery

__all__ = ["MemoryTarget"]


class MemoryTarget:
    api_version = 1

    def __init__(self) -> None:
        self.delivered: list[Delivery] = []
        self.attempts = 0  # ended, however they ended
        self._failures: list[Exception] = []
        self._gate: anyio.Event | None = None
        self.waiting = anyio.Event()  # set while a delivery is held at the gate
        self.changed = anyio.Event()  # set after each attempt; replaced by wait_for

    def fail(self, *errors: Exception) -> None:
        """The next len(errors) deliveries raise these, in order."""
        self._failures.extend(errors)

    def hold(self) -> None:
        """Deliveries wait (after counting as attempted) until release()."""
        self._gate = anyio.Event()
        self.waiting = anyio.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    async def deliver(self, delivery: Delivery) -> None:
        try:
            if self._gate is not None:
                self.waiting.set()
                await self._gate.wait()
            if self._failures:
                raise self._failures.pop(0)
            self.delivered.append(delivery)
        finally:
            self.attempts += 1
            self.changed.set()

    async def wait_for(self, attempts: int) -> None:
        """Until ``attempts`` deliveries ended (delivered, failed or cancelled) in all."""
        while self.attempts < attempts:
            self.changed = anyio.Event()
            await self.changed.wait()
