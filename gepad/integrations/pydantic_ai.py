"""pydantic-ai: an instructions function for ``agent.instructions`` that answers the user's
served prompt, and a one-liner that records feedback on a run's result. Needs
``pydantic-ai-slim`` (the ``pydantic-ai`` extra), imported only when these are called.

    served = AsyncServedPrompt(client, "support-bot", fallback="You are a helpful assistant.")
    agent = Agent(model, deps_type=Session)
    agent.instructions(instructions(served, lambda session: session.user_id))
    result = await agent.run("Where is my order?", deps=Session(user_id="alice"))
    await record_feedback(served, "alice", "rejection", result=result, comment="too vague")
"""

# No ``from __future__ import annotations`` here: pydantic-ai reads the first parameter's
# annotation of an instructions function at run time to decide whether to pass it the
# RunContext, and a string annotation naming a locally imported class would not resolve.

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gepad.client.events import FeedbackKindLike
from gepad.integrations.served import AsyncServedPrompt, UserOf, user_of
from gepad.v1 import gepad_pb2 as pb

if TYPE_CHECKING:
    from pydantic_ai import AgentRunResult, RunContext

__all__ = ["instructions", "record_feedback"]



def instructions(
    served: AsyncServedPrompt, user_id: UserOf
) -> "Callable[[RunContext[Any]], Awaitable[str]]":
    """An instructions function: pydantic-ai calls it for each model request, and it answers
    through the client's cache, so a hot-swap reaches running agents."""
    from pydantic_ai import RunContext

    async def served_instructions(ctx: RunContext[Any]) -> str:
        return await served.text(user_of(user_id, ctx.deps))

    return served_instructions


def _as_input(result: "AgentRunResult[Any]") -> list[dict[str, str]]:
    from pydantic_ai.messages import ModelRequest, ModelResponse, UserPromptPart

    messages = result.all_messages()
    # The last response is the output itself; instructions are the served prompt.
    turns: list[dict[str, str]] = []
    for message in messages[:-1] if isinstance(messages[-1], ModelResponse) else messages:
        if isinstance(message, ModelRequest):
            turns += [{"role": "user", "content": part.content} for part in message.parts
                      if isinstance(part, UserPromptPart) and isinstance(part.content, str)]
        elif message.text:
            turns.append({"role": "assistant", "content": message.text})
    return turns


async def record_feedback(
    served: AsyncServedPrompt,
    user_id: str,
    kind: FeedbackKindLike,
    *,
    result: "AgentRunResult[Any] | None" = None,
    **fields: Any,
) -> pb.RecordFeedbackResponse:
    """Record feedback on a run: ``result`` supplies the conversation and the output (unless
    given); other keywords as ``gepad.client.feedback_event``'s."""
    if result is not None:
        fields.setdefault("input", _as_input(result))
        fields.setdefault("output", str(result.output))
    return await served.record_feedback(user_id, kind, **fields)
