"""The pydantic-ai helpers with real pydantic-ai: an agent run on a FunctionModel (no network)
whose request carries the served prompt from the real daemon as its instructions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from gepad.client import AsyncClient
from gepad.integrations.pydantic_ai import instructions, record_feedback
from gepad.integrations.served import AsyncServedPrompt
from tests.conftest import RunningDaemon
from tests.integrations.conftest import (
    ALICES,
    FALLBACK,
    PROGRAM,
    SEED,
    missing_daemon,
    stored_events,
)

pytestmark = pytest.mark.anyio


def echo_instructions(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """A model that answers with the instructions its request carried."""
    return ModelResponse(parts=[TextPart(f"told: {info.instructions}")])


def agent(prompt: AsyncServedPrompt) -> Agent[Any, str]:
    made: Agent[Any, str] = Agent(FunctionModel(echo_instructions))
    made.instructions(instructions(prompt, lambda deps: deps["user"]))
    return made


async def test_the_model_request_carries_the_users_served_prompt(
        running_daemon: RunningDaemon, served: str) -> None:
    async with AsyncClient(running_daemon.target) as client:
        prompt = AsyncServedPrompt(client, PROGRAM, FALLBACK)
        result = await agent(prompt).run("where is my order?", deps={"user": "alice"})
        assert result.output == f"told: {ALICES}"
        request = result.all_messages()[0]
        assert isinstance(request, ModelRequest) and request.instructions == ALICES
        bob = await agent(prompt).run("hi", deps={"user": "bob"})
        assert bob.output == f"told: {SEED}"
        await record_feedback(prompt, "alice", "correction", result=result,
                              correction="It ships tomorrow.")
    (event,) = stored_events(running_daemon)
    assert event["candidate_id"] == served
    assert event["input"] == [{"role": "user", "content": "where is my order?"}]
    assert (event["output"], event["correction"]) == (f"told: {ALICES}", "It ships tomorrow.")


async def test_a_fixed_user_and_the_fallback_when_the_daemon_is_down(daemon_root: Path) -> None:
    async with AsyncClient(missing_daemon(daemon_root), timeout=2) as client:
        made: Agent[None, str] = Agent(FunctionModel(echo_instructions))
        made.instructions(instructions(AsyncServedPrompt(client, PROGRAM, FALLBACK), "alice"))
        result = await made.run("hi")
    assert result.output == f"told: {FALLBACK}"


async def test_feedback_on_a_later_turn_carries_the_conversation_before_it(
        running_daemon: RunningDaemon, served: str) -> None:
    async with AsyncClient(running_daemon.target) as client:
        prompt = AsyncServedPrompt(client, PROGRAM, FALLBACK)
        first = await agent(prompt).run("hello", deps={"user": "alice"})
        second = await agent(prompt).run("and now?", deps={"user": "alice"},
                                         message_history=first.all_messages())
        await record_feedback(prompt, "alice", "rejection", result=second)
    (event,) = stored_events(running_daemon)
    assert event["input"] == [{"role": "user", "content": "hello"},
                              {"role": "assistant", "content": f"told: {ALICES}"},
                              {"role": "user", "content": "and now?"}]
