"""The client's prompt cache: stale-while-revalidate, with a caller-given fallback.

A host application asks for its prompt on every request; the daemon should not sit on that path.
An entry younger than ``max_age`` is served as is. One younger than ``stale_max_age`` is served at
once while a single background refresh fetches the new one. Anything older, or missing, is fetched
before answering. When the daemon cannot be reached, the last prompt we had (of any age) beats the
caller's fallback, which beats an exception.

The cache does no I/O of its own: clients hand it a ``fetch`` callable and a ``spawn`` that runs a
refresh in the background (a task group for ``AsyncClient``, a thread pool for ``Client``), so the
policy is tested with a fake clock and a fake fetcher.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

from gepad.client.status_errors import NotFound, Unreachable
from gepad.v1 import gepad_pb2 as pb

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_STALE_MAX_AGE",
    "CachedPrompt",
    "Fallback",
    "Freshness",
    "PromptCache",
    "fallback_prompt",
]

logger = logging.getLogger("gepad.client")

DEFAULT_MAX_AGE = 5.0
DEFAULT_STALE_MAX_AGE = 60.0

# Components by name, or a str taken as the single "system" component.
Fallback = Mapping[str, str] | str
_Key = tuple[str, str]


class Freshness(enum.Enum):
    FRESH = "fresh"
    STALE = "stale"
    EXPIRED = "expired"


@dataclass(frozen=True)
class CachedPrompt:
    prompt: pb.Prompt
    # Clock reading when the request that produced it was sent (not when the answer arrived), so
    # an answer that was slow in coming is not taken for newer than it is.
    fetched_at: float


def fallback_prompt(user_id: str, program: str, fallback: Fallback) -> pb.Prompt:
    """The caller's fallback as a ``Prompt``: no candidate id, version 0, so feedback recorded
    against it is not attributed to any candidate."""
    components = {"system": fallback} if isinstance(fallback, str) else dict(fallback)
    return pb.Prompt(user_id=user_id, program=program, components=components)


class PromptCache:
    """Thread-safe (a sync client refreshes from worker threads); shareable between clients."""

    def __init__(
        self,
        *,
        max_age: float = DEFAULT_MAX_AGE,
        stale_max_age: float = DEFAULT_STALE_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_age < 0 or stale_max_age < max_age:
            raise ValueError("need 0 <= max_age <= stale_max_age")
        self.max_age = max_age
        self.stale_max_age = stale_max_age
        self.clock = clock
        self._entries: dict[_Key, CachedPrompt] = {}
        self._refreshing: set[_Key] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ storage

    def get(self, user_id: str, program: str) -> CachedPrompt | None:
        with self._lock:
            return self._entries.get((user_id, program))

    def freshness(self, entry: CachedPrompt) -> Freshness:
        age = self.clock() - entry.fetched_at
        if age < self.max_age:
            return Freshness.FRESH
        if age < self.stale_max_age:
            return Freshness.STALE
        return Freshness.EXPIRED

    def store(self, prompt: pb.Prompt, *, fetched_at: float | None = None) -> bool:
        """Remember ``prompt``; False when it was dropped as older than what is cached.

        Versions only grow, but a refresh can race a watch: an answer with a lower version that
        was also requested before the cached copy is a late answer and is dropped. A lower version
        requested afterwards is the daemon's current truth (its state was reset) and wins.
        """
        return self._store((prompt.user_id, prompt.program), prompt, fetched_at)

    def _store(self, key: _Key, prompt: pb.Prompt, fetched_at: float | None) -> bool:
        at = self.clock() if fetched_at is None else fetched_at
        with self._lock:
            current = self._entries.get(key)
            if (
                current is not None
                and prompt.version < current.prompt.version
                and at < current.fetched_at
            ):
                return False
            if current is not None and prompt.version == current.prompt.version:
                at = max(at, current.fetched_at)
            self._entries[key] = CachedPrompt(prompt, at)
            return True

    def invalidate(self, user_id: str | None = None, program: str | None = None) -> None:
        """Forget entries matching the given user and/or program (all of them with no arguments)."""
        with self._lock:
            for key in list(self._entries):
                if user_id in (None, key[0]) and program in (None, key[1]):
                    del self._entries[key]

    def _claim_refresh(self, key: _Key) -> bool:
        # One background refresh per prompt, however many requests see it stale meanwhile.
        with self._lock:
            if key in self._refreshing:
                return False
            self._refreshing.add(key)
            return True

    def _release_refresh(self, key: _Key) -> None:
        with self._lock:
            self._refreshing.discard(key)

    # ------------------------------------------------------------------ policy

    def _usable(self, key: _Key) -> tuple[CachedPrompt | None, Freshness | None]:
        entry = self.get(*key)
        return entry, (self.freshness(entry) if entry is not None else None)

    def _answer_from_cache(
        self, key: _Key, start_refresh: Callable[[], object]
    ) -> tuple[CachedPrompt | None, pb.Prompt | None]:
        """The cached entry, and the prompt to answer with now if the cache can answer: fresh as
        is, stale as is while ``start_refresh`` fetches a newer one (once per key at a time)."""
        entry, freshness = self._usable(key)
        if entry is None or freshness not in (Freshness.FRESH, Freshness.STALE):
            return entry, None
        if freshness is Freshness.STALE and self._claim_refresh(key):
            try:
                start_refresh()
            except Exception:
                self._release_refresh(key)
                raise
        return entry, entry.prompt

    def _when_unreachable(
        self, key: _Key, entry: CachedPrompt | None, fallback: Fallback | None,
        exc: Unreachable | NotFound,
    ) -> pb.Prompt:
        if isinstance(exc, NotFound):
            # No such program (yet): nothing personalized exists to serve, cached or not.
            if fallback is None:
                raise exc
            logger.warning("gepad: %s; serving the fallback prompt", exc)
            return fallback_prompt(*key, fallback)
        if entry is not None:
            logger.warning("gepad unreachable (%s); serving the last prompt it sent", exc)
            return entry.prompt
        if fallback is not None:
            logger.warning("gepad unreachable (%s); serving the fallback prompt", exc)
            return fallback_prompt(*key, fallback)
        raise exc

    async def aget(
        self,
        user_id: str,
        program: str,
        fetch: Callable[[], Awaitable[pb.Prompt]],
        *,
        spawn: Callable[[Callable[[], Coroutine[Any, Any, None]]], object],
        fallback: Fallback | None = None,
    ) -> pb.Prompt:
        key = (user_id, program)
        entry, answer = self._answer_from_cache(
            key, lambda: spawn(lambda: self._arefresh(key, fetch))
        )
        if answer is not None:
            return answer
        started = self.clock()
        try:
            prompt = await fetch()
        except (Unreachable, NotFound) as exc:
            return self._when_unreachable(key, entry, fallback, exc)
        self._store(key, prompt, started)
        return prompt

    async def _arefresh(self, key: _Key, fetch: Callable[[], Awaitable[pb.Prompt]]) -> None:
        started = self.clock()
        try:
            self._store(key, await fetch(), started)
        except Exception:
            # A failed refresh must never reach the host application: the stale entry keeps
            # being served and the next request past max_age tries again.
            logger.warning("gepad: refreshing the prompt for %s/%s failed", *key, exc_info=True)
        finally:
            self._release_refresh(key)

    def get_or_fetch(
        self,
        user_id: str,
        program: str,
        fetch: Callable[[], pb.Prompt],
        *,
        spawn: Callable[[Callable[[], None]], object],
        fallback: Fallback | None = None,
    ) -> pb.Prompt:
        """The blocking twin of ``aget``."""
        key = (user_id, program)
        entry, answer = self._answer_from_cache(
            key, lambda: spawn(lambda: self._refresh(key, fetch))
        )
        if answer is not None:
            return answer
        started = self.clock()
        try:
            prompt = fetch()
        except (Unreachable, NotFound) as exc:
            return self._when_unreachable(key, entry, fallback, exc)
        self._store(key, prompt, started)
        return prompt

    def _refresh(self, key: _Key, fetch: Callable[[], pb.Prompt]) -> None:
        started = self.clock()
        try:
            self._store(key, fetch(), started)
        except Exception:
            logger.warning("gepad: refreshing the prompt for %s/%s failed", *key, exc_info=True)
        finally:
            self._release_refresh(key)
