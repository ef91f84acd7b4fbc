"""The OpenAI Agents SDK: an ``Agent(instructions=...)`` callable that answers the user's served
prompt, and a one-liner that records feedback on a run's result. Needs ``openai-agents`` (the
``openai-agents`` extra), imported only for type checking: the SDK calls what we hand it.

    served = AsyncServedPrompt(client, "support-bot", fallback="You are a helpful assistant.")
    agent = Agent(name="support", instructions=instructions(served, lambda ctx: ctx.user_id))
    result = await Runner.run(agent, "Where is my order?", context=Session(user_id="alice"))
    await record_feedback(served, "alice", "rejection", result=result, comment="too vague")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gepad.client.events import FeedbackKindLike
from gepad.integrations.served import AsyncServedPrompt, UserOf, user_of
from gepad.v1 import gepad_pb2 as pb

if TYPE_CHECKING:
    from agents import Agent, RunContextWrapper, RunResult

__all__ = ["instructions", "record_feedback"]



def instructions(
    served: AsyncServedPrompt, user_id: UserOf
) -> Callable[[RunContextWrapper[Any], Agent[Any]], Awaitable[str]]:
    """An ``instructions`` callable: the SDK calls it with (run context, agent) at each turn, and
    it answers through the client's cache, so a hot-swap reaches running agents."""

    async def served_instructions(run_context: RunContextWrapper[Any], agent: Agent[Any]) -> str:
        return await served.text(user_of(user_id, run_context.context))

    return served_instructions


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    # A list of content parts: the text ones are what the user wrote.
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def _as_input(items: str | list[Any]) -> str | list[dict[str, str]]:
    if isinstance(items, str):
        return items
    # Tool calls and their outputs are the agent's own steps, not the user's request.
    return [{"role": item["role"], "content": _text(item.get("content", ""))}
            for item in items
            if isinstance(item, dict) and item.get("role") in ("user", "assistant")]


async def record_feedback(
    served: AsyncServedPrompt,
    user_id: str,
    kind: FeedbackKindLike,
    *,
    result: RunResult | None = None,
    **fields: Any,
) -> pb.RecordFeedbackResponse:
    """Record feedback on a run: ``result`` supplies the input and the final output (unless
    given); other keywords as ``gepad.client.feedback_event``'s."""
    if result is not None:
        fields.setdefault("input", _as_input(result.input))
        fields.setdefault("output", str(result.final_output))
    return await served.record_feedback(user_id, kind, **fields)
