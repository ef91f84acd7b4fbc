"""The LangChain helpers with real langchain-core against the real daemon."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import AIMessage

from gepad.client import Client, PromptCache
from gepad.integrations.langchain import chat_prompt, record_feedback
from gepad.integrations.served import ServedPrompt
from tests.conftest import RunningDaemon
from tests.integrations.conftest import (
    ALICES,
    FALLBACK,
    PROGRAM,
    SEED,
    missing_daemon,
    set_prompt,
    stored_events,
)


def test_the_template_formats_with_the_users_served_prompt(
        running_daemon: RunningDaemon, served: str) -> None:
    with Client(running_daemon.target) as client:
        template = chat_prompt(ServedPrompt(client, PROGRAM, FALLBACK), "alice",
                               ("human", "{question}"))
        messages = template.invoke({"question": "Where is my order?"}).to_messages()
        assert [(m.type, m.text) for m in messages] == [
            ("system", ALICES), ("human", "Where is my order?")]
        assert template.input_variables == ["question"]
        # Someone without a prompt of their own gets the program's.
        bob = chat_prompt(ServedPrompt(client, PROGRAM, FALLBACK), "bob")
        assert bob.invoke({"input": "hi"}).to_messages()[0].text == SEED


def test_a_hot_swap_reaches_a_template_made_before_it(
        running_daemon: RunningDaemon, served: str) -> None:
    # A cache that keeps nothing: every format asks the daemon.
    cache = PromptCache(max_age=0, stale_max_age=0)
    with Client(running_daemon.target, cache=cache) as client:
        template = chat_prompt(ServedPrompt(client, PROGRAM, FALLBACK), "alice")
        assert template.invoke({"input": "hi"}).to_messages()[0].text == ALICES
        set_prompt(client, "Be terse.", "edit-2")
        assert template.invoke({"input": "hi"}).to_messages()[0].text == "Be terse."


def test_the_fallback_serves_when_the_daemon_is_down(daemon_root: Path) -> None:
    with Client(missing_daemon(daemon_root), timeout=2) as client:
        template = chat_prompt(ServedPrompt(client, PROGRAM, FALLBACK), "alice")
        assert template.invoke({"input": "hi"}).to_messages()[0].text == FALLBACK


def test_feedback_is_recorded_against_the_served_candidate(
        running_daemon: RunningDaemon, served: str) -> None:
    with Client(running_daemon.target) as client:
        prompt = ServedPrompt(client, PROGRAM, FALLBACK)
        formatted = chat_prompt(prompt, "alice").invoke({"input": "Where is my order?"})
        response = record_feedback(prompt, "alice", "rejection", input=formatted,
                                   output=AIMessage("It is on its way."), comment="too vague")
    assert response.event_id and not response.duplicate
    (event,) = stored_events(running_daemon)
    assert event["candidate_id"] == served
    assert event["input"] == [{"role": "user", "content": "Where is my order?"}]
    assert (event["output"], event["comment"]) == ("It is on its way.", "too vague")
