"""The default task runner and reflection LM over the LLM seam."""

from __future__ import annotations

from gepad.engine import Candidate, ChatMessage, Example, Reply, RunnerOutput

from .client import LLMClient


def system_prompt(candidate: Candidate) -> str:
    """Components joined in name order; a single component is used verbatim."""
    parts = [text for _, text in sorted(candidate.components.items()) if text.strip()]
    return "\n\n".join(parts)


class ChatTaskRunner:
    """Runs a candidate as the system prompt of a chat call on the example's conversation.

    System messages inside the example's input are dropped: the candidate is the system prompt
    being evaluated, and an old one in the logged request would confound it.
    """

    def __init__(self, client: LLMClient) -> None:
        self._client = client

    @property
    def version(self) -> str:
        return f"chat:{self._client.version}"

    async def run(self, candidate: Candidate, example: Example) -> RunnerOutput:
        messages = [ChatMessage("system", system_prompt(candidate))]
        messages += [m for m in example.input if m.role != "system"]
        completion = await self._client.complete(messages)
        return RunnerOutput(
            output=completion.text,
            trace={"finish_reason": completion.finish_reason, "model": completion.model},
            usage=completion.usage,
        )


class LLMReflection:
    """The engine's ReflectionLM over an LLMClient: the meta-prompt as one user message."""

    def __init__(self, client: LLMClient) -> None:
        self._client = client

    async def complete(self, prompt: str) -> Reply:
        completion = await self._client.complete([ChatMessage("user", prompt)])
        return Reply(completion.text, completion.usage, completion.finish_reason)
