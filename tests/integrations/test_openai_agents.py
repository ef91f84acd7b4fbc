"""The OpenAI Agents SDK helpers with the real SDK: an agent run against the loopback test LLM
with the served prompt from the real daemon as its instructions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from agents import Agent, OpenAIChatCompletionsModel, RunConfig, RunContextWrapper, Runner
from openai import AsyncOpenAI

from gepad.client import AsyncClient
from gepad.integrations.openai_agents import instructions, record_feedback
from gepad.integrations.served import AsyncServedPrompt
from tests.conftest import RunningDaemon
from tests.doubles.openai_server import OpenAIDouble
from tests.integrations.conftest import (
    ALICES,
    FALLBACK,
    PROGRAM,
    SEED,
    missing_daemon,
    stored_events,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def double() -> Iterator[OpenAIDouble]:
    with OpenAIDouble() as running:
        yield running


def run_config(double: OpenAIDouble) -> RunConfig:
    model = OpenAIChatCompletionsModel(
        model="task-double",
        openai_client=AsyncOpenAI(base_url=double.api_base, api_key="test-key"))
    return RunConfig(model=model, tracing_disabled=True)


async def test_an_agent_runs_with_its_users_served_prompt_and_feedback_is_recorded(
        running_daemon: RunningDaemon, served: str, double: OpenAIDouble) -> None:
    async with AsyncClient(running_daemon.target) as client:
        prompt = AsyncServedPrompt(client, PROGRAM, FALLBACK)
        agent = Agent(name="support",
                      instructions=instructions(prompt, lambda context: context["user"]))
        result = await Runner.run(agent, "where is my order?", context={"user": "alice"},
                                  run_config=run_config(double))
        assert double.last_messages["task-double"][0] == {"role": "system", "content": ALICES}
        # The test LLM obeyed alice's prompt.
        assert result.final_output == "OK: WHERE IS MY ORDER?"
        await record_feedback(prompt, "alice", "rejection", result=result, comment="too loud")
    (event,) = stored_events(running_daemon)
    assert event["candidate_id"] == served
    assert event["input"] == [{"role": "user", "content": "where is my order?"}]
    assert (event["output"], event["comment"]) == ("OK: WHERE IS MY ORDER?", "too loud")


async def test_the_sdk_calls_the_instructions_with_each_runs_context(
        running_daemon: RunningDaemon, served: str) -> None:
    async with AsyncClient(running_daemon.target) as client:
        agent = Agent(name="support", instructions=instructions(
            AsyncServedPrompt(client, PROGRAM, FALLBACK), lambda context: context["user"]))
        assert await agent.get_system_prompt(RunContextWrapper({"user": "alice"})) == ALICES
        assert await agent.get_system_prompt(RunContextWrapper({"user": "bob"})) == SEED


async def test_the_fallback_serves_when_the_daemon_is_down(daemon_root: Path) -> None:
    async with AsyncClient(missing_daemon(daemon_root), timeout=2) as client:
        agent = Agent(name="support",
                      instructions=instructions(AsyncServedPrompt(client, PROGRAM, FALLBACK),
                                                "alice"))
        assert await agent.get_system_prompt(RunContextWrapper(None)) == FALLBACK
