"""The common case in one call: the text of one component, the fallback whenever nothing
personalized can be served; get_prompt still gives the whole message."""

from __future__ import annotations

import pytest

from gepad.client import AsyncClient, Client
from gepad.client.status_errors import NotFound
from gepad.v1 import gepad_pb2 as pb
from tests.conftest import RunningDaemon, short_tempdir

FALLBACK = "You are a support agent."


def test_an_unregistered_program_serves_the_fallback_and_says_how_to_register_it(
    running_daemon: RunningDaemon, caplog: pytest.LogCaptureFixture
) -> None:
    with Client(running_daemon.target) as client:
        assert client.prompt_text("alice", "support-bot", FALLBACK) == FALLBACK
        prompt = client.get_prompt("alice", "support-bot", fallback=FALLBACK)
        assert dict(prompt.components) == {"system": FALLBACK} and prompt.candidate_id == ""
        with pytest.raises(NotFound) as info:
            client.get_prompt("alice", "support-bot")
        assert "gepad programs set support-bot --system" in str(info.value)
    assert "gepad programs set support-bot" in caplog.text  # why the fallback was served


def test_the_served_text_once_there_is_one(running_daemon: RunningDaemon) -> None:
    with Client(running_daemon.target) as client:
        client.upsert_program(pb.Program(name="support-bot", seed_components={
            "system": "Seed.", "style": "Short."}))
        assert client.prompt_text("alice", "support-bot", FALLBACK) == "Seed."
        assert client.prompt_text("alice", "support-bot", "terse", component="style") == "Short."
        assert client.prompt_text("alice", "support-bot", "x", component="tone") == "x"
        client.stub.RecordFeedback(pb.RecordFeedbackRequest(event=pb.FeedbackEvent(
            event_id="e1", user_id="alice", program="support-bot",
            kind=pb.FEEDBACK_KIND_PROMPT_EDIT, edited_components={"system": "Mine."})))
        client.cache.invalidate()
        assert client.prompt_text("alice", "support-bot", FALLBACK) == "Mine."
        full = client.get_prompt("alice", "support-bot")
        assert full.version == 1 and full.candidate_id


def test_an_unreachable_daemon_serves_the_fallback() -> None:
    nowhere = short_tempdir() / "gepad.sock"
    with Client(f"unix://{nowhere}", timeout=2) as client:
        assert client.prompt_text("alice", "support-bot", FALLBACK) == FALLBACK


@pytest.mark.anyio
async def test_the_async_client_does_the_same(running_daemon: RunningDaemon) -> None:
    async with AsyncClient(running_daemon.target) as client:
        assert await client.prompt_text("alice", "support-bot", FALLBACK) == FALLBACK
        await client.upsert_program(pb.Program(name="support-bot",
                                               seed_components={"system": "Seed."}))
        client.cache.invalidate()
        assert await client.prompt_text("alice", "support-bot", FALLBACK) == "Seed."
