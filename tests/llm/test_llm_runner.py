from __future__ import annotations

import pytest

from gepad.engine import Candidate, ChatMessage, Example, Usage
from gepad.llm import ChatTaskRunner, Completion, LLMReflection, ScriptedLLM

pytestmark = pytest.mark.anyio


async def test_chat_runner_uses_candidate_as_system_prompt() -> None:
    llm = ScriptedLLM([Completion("ok", "stop", Usage(12, 0.001, 1), model="m")], version="m#1")
    runner = ChatTaskRunner(llm)
    cand = Candidate.create({"b_style": "Be terse.", "a_system": "You help with taxes."})
    ex = Example(
        id="e",
        split="train",
        input=(ChatMessage("system", "old prompt"), ChatMessage("user", "Deduct a desk?")),
    )
    out = await runner.run(cand, ex)
    assert out.output == "ok" and out.usage == Usage(12, 0.001, 1)
    (messages,) = llm.requests
    assert messages[0] == ChatMessage("system", "You help with taxes.\n\nBe terse.")
    assert [m.role for m in messages] == ["system", "user"]  # the logged system prompt dropped
    assert runner.version == "chat:m#1"


async def test_reflection_adapter_passes_finish_reason() -> None:
    llm = ScriptedLLM([Completion("cut", "length", Usage(5, 0.0, 1))])
    reply = await LLMReflection(llm).complete("meta prompt")
    assert reply.finish_reason == "length" and reply.usage.calls == 1
    assert llm.requests[0] == (ChatMessage("user", "meta prompt"),)
