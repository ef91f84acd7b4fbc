"""What each user is served, held in memory, and the watchers waiting for it to change.

GetPrompt is the hot path of every client, so it is a dict lookup: no database read. It
subscribes to the store's served changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio

from gepad.lineage import CandidateRecord, ServedState

__all__ = ["ServedPrompts"]

Key = tuple[str, str]


class ServedPrompts:
    """What every user is served, in memory: answers GetPrompt, wakes watchers on each served
    change (it subscribes to the store's) and on a program's new seed."""

    def __init__(self, seed_of: Callable[[str], CandidateRecord | None]) -> None:
        self._seed_of = seed_of
        self._served: dict[Key, ServedState] = {}
        self._changed: dict[Key, anyio.Event] = {}
        self._closed = False

    def __len__(self) -> int:
        return len(self._served)

    def load(self, states: list[ServedState]) -> None:
        for state in states:
            self._served[(state.user_id, state.program)] = state

    def states(self) -> list[ServedState]:
        """Every prompt served to someone (not the seeds of users never served anything)."""
        return list(self._served.values())

    def get(self, user_id: str, program: str) -> ServedState | None:
        """The served prompt, or the program's seed for a user never served anything else;
        None when the program does not exist."""
        served = self._served.get((user_id, program))
        if served is not None:
            return served
        seed = self._seed_of(program)
        if seed is None:
            return None
        return ServedState(
            user_id=user_id, program=program, candidate_id=seed.candidate_id,
            components=seed.components, version=0, pinned=False, updated_at=0.0,
        )

    def is_pinned(self, user_id: str, program: str) -> bool:
        served = self._served.get((user_id, program))
        return served is not None and served.pinned

    def publish(self, state: ServedState) -> None:
        key = (state.user_id, state.program)
        current = self._served.get(key)
        if current is not None and current.version >= state.version:
            return
        self._served[key] = state
        self._wake(key)

    def program_changed(self, program: str) -> None:
        """A program's seed changed: wake its watchers so those still on the seed see it."""
        for key in [k for k in self._changed if k[1] == program]:
            self._wake(key)

    def close(self) -> None:
        """End every watch stream (shutdown)."""
        self._closed = True
        for key in list(self._changed):
            self._wake(key)

    def _wake(self, key: Key) -> None:
        event = self._changed.pop(key, None)
        if event is not None:
            event.set()

    async def watch(self, user_id: str, program: str) -> AsyncIterator[ServedState]:
        """The current prompt, then each change, until close(). A slow watcher skips straight to
        the newest version rather than queueing every intermediate one."""
        key = (user_id, program)
        last: tuple[str, int] | None = None
        while not self._closed:
            event = self._changed.get(key)
            if event is None:
                event = self._changed[key] = anyio.Event()
            prompt = self.get(user_id, program)
            if prompt is None:
                return
            if (prompt.candidate_id, prompt.version) != last:
                last = (prompt.candidate_id, prompt.version)
                yield prompt
            await event.wait()

