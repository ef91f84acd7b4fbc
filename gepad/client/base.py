"""What ``Client`` and ``AsyncClient`` share: how they are made and how a prompt watch resumes.

What each method sends is in ``requests``; the two clients differ only in how they wait.
"""

from __future__ import annotations

from typing import Self

from gepad.client.cache import PromptCache
from gepad.client.connection import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_TIMEOUT,
    Connection,
    normalize_target,
    target_for_settings,
)
from gepad.client.status_errors import GepadError, Unreachable
from gepad.settings import Settings
from gepad.v1 import gepad_pb2 as pb

__all__ = ["BaseClient", "PromptWatch"]


class BaseClient:
    """Where the daemon is, how to authenticate and when to give up (``connection``), and the
    stale-while-revalidate ``cache`` of served prompts."""

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        cache: PromptCache | None = None,
    ) -> None:
        self.connection = Connection(normalize_target(target), token, timeout, max_message_bytes)
        self.cache = cache if cache is not None else PromptCache()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        cache: PromptCache | None = None,
    ) -> Self:
        """A client for the daemon those settings describe, over its Unix socket."""
        return cls(
            target_for_settings(settings),
            token=token,
            timeout=timeout,
            max_message_bytes=settings.max_message_bytes,
            cache=cache,
        )

    @property
    def target(self) -> str:
        return self.connection.target


class PromptWatch:
    """A prompt watch's memory across reconnects: which prompt the caller saw last."""

    def __init__(self, reconnect: bool) -> None:
        self.reconnect = reconnect
        self._seen: tuple[str, int, bool] | None = None

    def is_new(self, prompt: pb.Prompt) -> bool:
        """Whether to show ``prompt`` (a reconnect re-sends the one already seen)."""
        key = (prompt.candidate_id, prompt.version, prompt.pinned)
        if key == self._seen:
            return False
        self._seen = key
        return True

    def may_resume(self, error: GepadError) -> bool:
        """Reconnect only to a daemon that was reached before: one that cannot be reached at
        the start is a configuration error the caller must see."""
        return self.reconnect and self._seen is not None and isinstance(error, Unreachable)
