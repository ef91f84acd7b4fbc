"""A running daemon serving alice a prompt of her own (a person's edit, served pinned), and a
way to read back the feedback events it stored."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gepad.client import Client
from gepad.v1 import gepad_pb2 as pb
from tests.conftest import RunningDaemon

PROGRAM = "support-bot"
SEED = "You are a helpful assistant."
ALICES = "Answer alice in UPPERCASE; {braces} are text."
FALLBACK = "You are a fallback assistant."


def set_prompt(client: Client, text: str, event_id: str) -> str:
    """Serve alice ``text``; returns the served candidate's id."""
    client.record_feedback(user_id="alice", program=PROGRAM, kind="prompt_edit",
                           event_id=event_id, edited_components={"system": text}, wait=True)
    return client.fetch_prompt("alice", PROGRAM).candidate_id


@pytest.fixture
def served(running_daemon: RunningDaemon) -> Iterator[str]:
    """alice's served candidate id."""
    with Client(running_daemon.target) as admin:
        admin.upsert_program(pb.Program(
            name=PROGRAM, seed_components={"system": SEED},
            task_model=pb.ModelSettings(model="openai/task-double", api_key_env="NONE")))
        yield set_prompt(admin, ALICES, "edit-1")


def stored_events(daemon: RunningDaemon) -> list[dict[str, Any]]:
    with sqlite3.connect(daemon.settings.database_path) as conn:
        rows = conn.execute("SELECT payload_json FROM feedback_events WHERE kind != "
                            "'prompt_edit' ORDER BY seq").fetchall()
    return [json.loads(payload) for (payload,) in rows]


def missing_daemon(root: Path) -> str:
    return f"unix://{root}/missing.sock"
