"""TEST DOUBLE: an LLMClient answering from a script instead of a model. Not for production."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gepad.engine import ChatMessage, Usage

from .client import Completion, LLMError

Answer = str | Completion | Exception


class ScriptedLLM:
    """Replies in order from `script` (cycling), or from a function of the messages.

    An Exception in the script is raised instead of answering (to test retries and errors).
    Records every request in `requests`.
    """

    def __init__(
        self,
        script: Sequence[Answer] | Callable[[Sequence[ChatMessage]], Answer],
        *,
        version: str = "scripted",
        tokens_per_call: int = 10,
        cost_per_call: float = 0.0,
    ) -> None:
        self._script = script
        self._version = version
        self._tokens = tokens_per_call
        self._cost = cost_per_call
        self.requests: list[tuple[ChatMessage, ...]] = []

    @property
    def version(self) -> str:
        return self._version

    async def complete(self, messages: Sequence[ChatMessage]) -> Completion:
        self.requests.append(tuple(messages))
        if callable(self._script):
            answer = self._script(messages)
        else:
            answer = self._script[(len(self.requests) - 1) % len(self._script)]
        if isinstance(answer, LLMError):
            raise answer
        if isinstance(answer, Exception):
            raise LLMError(str(answer), Usage(calls=1)) from answer
        if isinstance(answer, Completion):
            return answer
        return Completion(answer, "stop", Usage(self._tokens, self._cost, 1))
