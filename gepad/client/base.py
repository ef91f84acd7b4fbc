"""What ``Client`` and ``AsyncClient`` share: how they are made and how a prompt watch resumes.

What each method sends is in ``requests``; the two clients differ only in how they wait.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Self

import grpc

from gepad.client.backoff import Backoff
from gepad.client.cache import PromptCache
from gepad.client.connection import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_TIMEOUT,
    Connection,
    normalize_target,
    read_ca,
    target_for_settings,
)
from gepad.client.sender import FeedbackSender, SendBatch
from gepad.client.spool import FileSpool, default_spool_dir
from gepad.client.status_errors import Unreachable, from_rpc_error
from gepad.settings import Settings
from gepad.v1 import gepad_pb2 as pb

__all__ = ["AUTO_SPOOL", "BaseClient", "PromptWatch", "SpoolSetting", "text_or_fallback"]

# Spool under $XDG_STATE_HOME/gepad/client-spool/<the target's digest>/ (gepad.client.spool).
AUTO_SPOOL = "auto"
SpoolSetting = str | os.PathLike[str] | None

logger = logging.getLogger("gepad.client")


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
        spool: SpoolSetting = AUTO_SPOOL,
        tls_ca: str | Path | bytes | None = None,
    ) -> None:
        """``spool``: the folder where queued feedback waits while the daemon is unreachable
        (``AUTO_SPOOL``: one per target under ``$XDG_STATE_HOME/gepad/client-spool``; None: memory
        only, lost if the application stops before the daemon is back). ``tls_ca``: the CA (PEM
        bytes or file) that signed a TCP daemon's TLS certificate."""
        self.connection = Connection(normalize_target(target), token, timeout, max_message_bytes,
                                     read_ca(tls_ca))
        self.cache = cache if cache is not None else PromptCache()
        self.spool_dir: Path | None = (
            None if spool is None
            else default_spool_dir(self.connection.target) if spool == AUTO_SPOOL
            else Path(spool)
        )

    def _spool_waiting(self) -> bool:
        """Whether an earlier run left spooled feedback to replay."""
        if self.spool_dir is None:
            return False
        try:
            return any(p.stat().st_size for p in self.spool_dir.glob("spool-*.bin"))
        except OSError:
            return False

    def _new_sender(self, send: SendBatch) -> FeedbackSender:
        directory = self.spool_dir
        spool = None if directory is None else (lambda: FileSpool(directory))
        return FeedbackSender(
            send, spool=spool, replay_at_start=self._spool_waiting(),
            # Half the message limit leaves room for the batch's own framing.
            batch_bytes=self.connection.max_message_bytes // 2,
        )

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


def text_or_fallback(prompt: pb.Prompt | None, component: str, fallback: str,
                     error: Exception | None = None) -> str:
    """``prompt_text``'s answer: the component's text, else the fallback, saying why."""
    if prompt is not None and component in prompt.components:
        return prompt.components[component]
    why = error if error is not None else f"the served prompt has no {component!r} component"
    logger.warning("gepad: %s; serving the fallback prompt", why)
    return fallback


class PromptWatch:
    """What a prompt watch carries across reconnects: the prompt the caller saw last, and the
    backoff before the next attempt. Both clients loop over the stream and ask it what to do."""

    def __init__(self, cache: PromptCache, reconnect: bool) -> None:
        self.cache = cache
        self.reconnect = reconnect
        self.backoff = Backoff()
        self._seen: tuple[str, int, bool] | None = None
        self._lost = False

    def receive(self, prompt: pb.Prompt) -> bool:
        """Stores ``prompt`` in the cache; whether to show it (a reconnect re-sends the one
        already seen)."""
        self.backoff.reset()
        self.cache.store(prompt)
        if self._lost:
            self._lost = False
            logger.warning("gepad: prompt watch reconnected")
        key = (prompt.candidate_id, prompt.version, prompt.pinned)
        if key == self._seen:
            return False
        self._seen = key
        return True

    def lost(self, exc: grpc.RpcError) -> None:
        """The stream broke: raises the error, unless the watch reconnects to a daemon it had
        reached (one that cannot be reached at the start is a configuration error to show)."""
        error = from_rpc_error(exc)
        if not (self.reconnect and self._seen is not None and isinstance(error, Unreachable)):
            raise error from exc
        self._say_lost(str(error))

    def ended(self) -> None:
        """The stream ended (the daemon shut down, say) or broke: say so once before retrying."""
        self._say_lost("the daemon ended the stream")

    def _say_lost(self, why: str) -> None:
        if not self._lost:
            self._lost = True
            logger.warning("gepad: prompt watch lost (%s); reconnecting", why)
