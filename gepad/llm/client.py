"""The LLM seam: one Protocol, one result type, two error types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from gepad.engine import ChatMessage, Usage


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    # "stop", "length", ... as the provider reports it; None when unknown.
    finish_reason: str | None
    usage: Usage = field(default_factory=Usage)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""


class LLMError(Exception):
    """A call failed for good (after retries, or a non-transient error).

    `usage` holds what the attempts cost (calls made, tokens if any were reported), so budgets
    and run statistics still count them.
    """

    def __init__(self, message: str, usage: Usage | None = None, *, transient: bool = False):
        super().__init__(message)
        self.usage = usage if usage is not None else Usage()
        self.transient = transient


@runtime_checkable
class LLMClient(Protocol):
    @property
    def version(self) -> str:
        """Identifies the model and the parameters that shape its answers (for cache keys)."""
        ...

    async def complete(self, messages: Sequence[ChatMessage]) -> Completion: ...
