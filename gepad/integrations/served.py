"""One program's served prompt as the framework helpers use it: read through a client's
stale-while-revalidate cache with a fallback (so a request never waits on, or fails with, the
daemon), and feedback recorded against the candidate that was served.

`ServedPrompt` wraps the blocking `Client` (LangChain formats templates synchronously);
`AsyncServedPrompt` wraps `AsyncClient` (the OpenAI Agents SDK and pydantic-ai run on asyncio).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gepad.client import AsyncClient, Client, Fallback
from gepad.client.cache import PromptCache
from gepad.client.events import FeedbackKindLike, feedback_event
from gepad.v1 import gepad_pb2 as pb

__all__ = ["AsyncServedPrompt", "ServedPrompt", "UserOf", "component_text", "user_of"]

# Whose prompt: a user id, or a function of the framework's per-run object (the OpenAI Agents
# SDK's run context, pydantic-ai's deps) for an agent that serves many users.
UserOf = str | Callable[[Any], str]


def user_of(user_id: UserOf, run_object: Any) -> str:
    return user_id(run_object) if callable(user_id) else user_id


def component_text(prompt: pb.Prompt, component: str, fallback: Fallback) -> str:
    """The component's text; the fallback's when the served prompt lacks that component (a
    program whose components were renamed must not answer with an empty prompt)."""
    if component in prompt.components:
        return prompt.components[component]
    if isinstance(fallback, str):
        return fallback
    return fallback.get(component, "")


def served_candidate(cache: PromptCache, user_id: str, program: str) -> str:
    """The candidate the cache last served this user: what the output being judged most likely
    came from. Empty when only the fallback was served, so feedback is not misattributed."""
    entry = cache.get(user_id, program)
    return entry.prompt.candidate_id if entry is not None else ""


@dataclass(frozen=True)
class ServedPrompt:
    """``ServedPrompt(client, "support-bot", fallback="You are a helpful assistant.")``."""

    client: Client
    program: str
    fallback: Fallback
    component: str = "system"

    def text(self, user_id: str) -> str:
        prompt = self.client.get_prompt(user_id, self.program, fallback=self.fallback)
        return component_text(prompt, self.component, self.fallback)

    def record_feedback(self, user_id: str, kind: FeedbackKindLike,
                        **fields: Any) -> pb.RecordFeedbackResponse:
        """``feedback_event``'s keywords; ``candidate_id`` defaults to the served one."""
        fields.setdefault("candidate_id",
                          served_candidate(self.client.cache, user_id, self.program))
        return self.client.record_feedback(
            feedback_event(user_id=user_id, program=self.program, kind=kind, **fields), wait=True)


@dataclass(frozen=True)
class AsyncServedPrompt:
    """As `ServedPrompt`, over an `AsyncClient` (entered: ``async with AsyncClient(...)``)."""

    client: AsyncClient
    program: str
    fallback: Fallback
    component: str = "system"

    async def text(self, user_id: str) -> str:
        prompt = await self.client.get_prompt(user_id, self.program, fallback=self.fallback)
        return component_text(prompt, self.component, self.fallback)

    async def record_feedback(self, user_id: str, kind: FeedbackKindLike,
                              **fields: Any) -> pb.RecordFeedbackResponse:
        fields.setdefault("candidate_id",
                          served_candidate(self.client.cache, user_id, self.program))
        return await self.client.record_feedback(
            feedback_event(user_id=user_id, program=self.program, kind=kind, **fields), wait=True)
