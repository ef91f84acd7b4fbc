"""``gepad hook claude-code|cursor`` fed recorded hook payloads, against the real daemon."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gepad.cli import main
from gepad.client import Client
from gepad.v1 import gepad_pb2 as pb
from tests.conftest import DaemonThread, RunningDaemon, make_settings, short_tempdir

FIXTURES = Path(__file__).parents[1] / "hooks" / "fixtures"
PROGRAM = "editor.system"


@dataclass
class Ran:
    code: int
    out: str
    err: str


class Hook:
    """Runs ``gepad --target T hook AGENT`` with a payload on stdin, as an editor would."""

    def __init__(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                 target: str, home: Path) -> None:
        self.capsys, self.monkeypatch, self.target, self.home = capsys, monkeypatch, target, home
        self.transcript = home / "transcript.jsonl"
        shutil.copy(FIXTURES / "claude_code_transcript.jsonl", self.transcript)
        config = home / "gepad.toml"
        config.write_text(f'[hooks]\nuser = "alice"\nprogram = "{PROGRAM}"\n')
        self.env = {"GEPAD_CONFIG": str(config), "GEPAD_STATE_DIR": str(home / "state")}

    @property
    def hooks_dir(self) -> Path:
        return self.home / "state" / "hooks"

    def spooled(self) -> list[Path]:
        return sorted((self.hooks_dir / "spool").glob("*.event"))

    def log(self) -> str:
        path = self.hooks_dir / "hook.log"
        return path.read_text() if path.exists() else ""

    def payload(self, fixture: str) -> bytes:
        text = (FIXTURES / fixture).read_text()
        return text.replace("{transcript}", str(self.transcript)).encode()

    def __call__(self, agent: str, payload: bytes | str) -> Ran:
        raw = payload if isinstance(payload, bytes) else self.payload(payload)
        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
        code = main(["--target", self.target, "hook", agent], env=self.env)
        captured = self.capsys.readouterr()
        return Ran(code, captured.out, captured.err)


@pytest.fixture
def home() -> Iterator[Path]:
    root = short_tempdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def register_program(target: str) -> None:
    with Client(target) as client:
        client.upsert_program(pb.Program(name=PROGRAM, seed_components={"system": "Be brief."}))


@pytest.fixture
def hook(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
         running_daemon: RunningDaemon, home: Path) -> Hook:
    register_program(running_daemon.target)
    return Hook(capsys, monkeypatch, running_daemon.target, home)


def stored(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT event_id, user_id, program, kind, payload_json"
            " FROM feedback_events ORDER BY seq"
        ).fetchall()
    return [{"event_id": e, "user_id": u, "program": p, "kind": k, **json.loads(j)}
            for e, u, p, k, j in rows]


def test_claude_code_undo_after_stop_is_a_rejection_of_the_last_answer(
    hook: Hook, running_daemon: RunningDaemon
) -> None:
    stop = hook("claude-code", "claude_code_stop.json")
    assert (stop.code, stop.out, stop.err) == (0, "", "")
    assert stored(running_daemon.settings.database_path) == []

    ran = hook("claude-code", "claude_code_prompt_undo.json")
    # UserPromptSubmit's stdout would be added to the model's context: nothing may be printed.
    assert (ran.code, ran.out, ran.err) == (0, "", "")
    [event] = stored(running_daemon.settings.database_path)
    assert (event["user_id"], event["program"], event["kind"]) == ("alice", PROGRAM, "rejection")
    assert event["comment"] == "No, undo that. An invalid date must raise, not be clamped."
    assert event["output"].startswith("February 30 does not exist")
    assert "Why does parse_date fail" in json.dumps(event["input"])
    assert event["metadata"]["signal"] == "negative"
    assert hook.spooled() == []


def test_claude_code_moving_on_accepts_from_the_transcript_alone(
    hook: Hook, running_daemon: RunningDaemon
) -> None:
    # No Stop hook ran: the transcript still holds the answer.
    assert hook("claude-code", "claude_code_prompt_next.json").code == 0
    [event] = stored(running_daemon.settings.database_path)
    assert event["kind"] == "acceptance"
    assert event["output"].startswith("February 30 does not exist")
    # The next task's words are not a comment on this answer.
    assert event.get("comment", "") == ""


def test_a_retried_hook_counts_once(hook: Hook, running_daemon: RunningDaemon) -> None:
    for _ in range(2):
        assert hook("claude-code", "claude_code_stop.json").code == 0
        assert hook("claude-code", "claude_code_prompt_undo.json").code == 0
    assert len(stored(running_daemon.settings.database_path)) == 1
    assert "1 already recorded" in hook.log()


def test_cursor_change_request_after_a_response(hook: Hook, running_daemon: RunningDaemon) -> None:
    first = hook("cursor", "cursor_before_submit_1.json")
    # beforeSubmitPrompt must let the prompt through.
    assert (first.code, json.loads(first.out)) == (0, {"continue": True})
    for fixture in ("cursor_after_response_1.json", "cursor_stop_1.json"):
        ran = hook("cursor", fixture)
        assert (ran.code, json.loads(ran.out), ran.err) == (0, {}, "")
    assert stored(running_daemon.settings.database_path) == []

    second = hook("cursor", "cursor_before_submit_2.json")
    assert json.loads(second.out) == {"continue": True}
    [event] = stored(running_daemon.settings.database_path)
    assert event["kind"] == "rejection"
    assert event["comment"] == "Actually make it one line and drop the emoji"
    assert event["output"].startswith("Added a docstring to parse_date")
    assert event["metadata"]["signal"] == "change_request"


def _payload(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


BEFORE = "from datetime import datetime\n\ndef parse_date(text):\n" \
         "    return datetime.strptime(text, '%Y-%m-%d')\n"


def test_claude_code_an_agent_edit_the_person_undid_rejects_the_turn(
    hook: Hook, running_daemon: RunningDaemon
) -> None:
    repo = hook.home / "shop"
    repo.mkdir()
    transcript = (FIXTURES / "claude_code_transcript_edit.jsonl").read_text()
    hook.transcript.write_text(transcript.replace("{repo}", str(repo)))
    session = {"session_id": "9a8b7c6d-0000-4111-8222-333344445555",
               "transcript_path": str(hook.transcript), "cwd": str(repo)}
    # The agent's edit is in the file when the turn ends...
    (repo / "dates.py").write_text(BEFORE.replace(
        "    return datetime.strptime(text, '%Y-%m-%d')\n",
        "    year, month, day = map(int, text.split('-'))\n"
        "    return date(year, month, min(day, monthrange(year, month)[1]))\n"))
    assert hook("claude-code", _payload({**session, "hook_event_name": "Stop"})).code == 0
    # ...then the person puts the old line back and moves on to something else.
    (repo / "dates.py").write_text(BEFORE)
    assert hook("claude-code", _payload({
        **session, "hook_event_name": "UserPromptSubmit",
        "prompt": "Now add a test for leap years in tests/test_dates.py"})).code == 0
    [event] = stored(running_daemon.settings.database_path)
    assert (event["kind"], event["metadata"]["signal"]) == ("rejection", "reverted")
    assert event["comment"] == "the person undid the agent's edits of dates.py"
    assert event["output"].startswith("parse_date now clamps the day")


def test_cursor_an_agent_edit_the_person_rewrote_rejects_the_turn(
    hook: Hook, running_daemon: RunningDaemon
) -> None:
    repo = hook.home / "shop"
    repo.mkdir()
    (repo / "dates.py").write_text(BEFORE)
    turn = {"conversation_id": "c0ffee00-1111-4222-8333-944455556666",
            "workspace_roots": [str(repo)]}
    assert hook("cursor", _payload({**turn, "generation_id": "g1",
                                      "hook_event_name": "beforeSubmitPrompt",
                                      "prompt": "Make parse_date lenient"})).code == 0
    assert hook("cursor", _payload({
        **turn, "generation_id": "g1", "hook_event_name": "afterFileEdit",
        "file_path": str(repo / "dates.py"),
        "edits": [{"old_string": "datetime.strptime(text, '%Y-%m-%d')",
                   "new_string": "dateutil.parser.parse(text)"}]})).code == 0
    assert hook("cursor", _payload({**turn, "generation_id": "g1",
                                      "hook_event_name": "afterAgentResponse",
                                      "text": "parse_date uses dateutil now."})).code == 0
    # The person replaces the agent's line with their own, then asks for something new.
    (repo / "dates.py").write_text(BEFORE.replace("datetime.strptime(text, '%Y-%m-%d')",
                                                  "date.fromisoformat(text)"))
    ran = hook("cursor", _payload({**turn, "generation_id": "g2",
                                     "hook_event_name": "beforeSubmitPrompt",
                                     "prompt": "Add a changelog entry"}))
    assert json.loads(ran.out) == {"continue": True}
    [event] = stored(running_daemon.settings.database_path)
    assert (event["kind"], event["metadata"]["signal"]) == ("rejection", "rewritten")
    assert event["comment"] == "the person rewrote the agent's edits of dates.py"
    assert event["output"] == "parse_date uses dateutil now."


@pytest.mark.parametrize("agent", ["claude-code", "cursor"])
@pytest.mark.parametrize("payload", [b"", b"{not json", b"[1, 2]", b'{"hook_event_name": 3}'])
def test_malformed_stdin_is_logged_not_sent(
    hook: Hook, running_daemon: RunningDaemon, agent: str, payload: bytes
) -> None:
    ran = hook(agent, payload)
    assert ran.code == 0 and ran.err == ""
    # Cursor still gets an answer that lets a prompt through; Claude Code gets nothing.
    if agent == "cursor":
        assert json.loads(ran.out) in ({"continue": True}, {})
    else:
        assert ran.out == ""
    assert stored(running_daemon.settings.database_path) == []
    assert f"{agent}: ValueError: payload" in hook.log()


def test_daemon_down_spools_and_the_next_run_delivers_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    settings = make_settings(home / "d", tcp=False)
    hook = Hook(capsys, monkeypatch, f"unix://{settings.socket_path}", home)
    assert hook("claude-code", "claude_code_stop.json").code == 0
    ran = hook("claude-code", "claude_code_prompt_undo.json")
    assert (ran.code, ran.out, ran.err) == (0, "", "")
    [spooled] = hook.spooled()
    assert oct(spooled.parent.stat().st_mode & 0o777) == "0o700"
    assert "1 left in the spool: daemon unreachable" in hook.log()

    daemon = DaemonThread(settings)
    daemon.wait_ready()
    try:
        register_program(hook.target)
        # Any later hook run flushes the spool: here a Stop, which sends nothing of its own.
        assert hook("claude-code", "claude_code_stop.json").code == 0
        assert hook.spooled() == []
        # The same feedback given again (a retried hook) is the same event.
        assert hook("claude-code", "claude_code_prompt_undo.json").code == 0
        events = stored(settings.database_path)
        assert [e["kind"] for e in events] == ["rejection"]
        assert events[0]["comment"].startswith("No, undo that.")
    finally:
        daemon.stop()


def test_an_invalid_spooled_event_is_set_aside(hook: Hook, running_daemon: RunningDaemon) -> None:
    # A program the daemon refuses (an invalid name) must not block the spool behind it.
    hook.env["GEPAD_PROGRAM"] = "not a program name"
    assert hook("claude-code", "claude_code_prompt_undo.json").code == 0
    assert hook.spooled() == []
    assert len(list((hook.hooks_dir / "spool" / "refused").iterdir())) == 1
    assert "refused by the daemon" in hook.log()
    del hook.env["GEPAD_PROGRAM"]
    assert hook("claude-code", "claude_code_prompt_next.json").code == 0
    assert [e["kind"] for e in stored(running_daemon.settings.database_path)] == ["acceptance"]


def test_a_broken_config_still_fails_open(hook: Hook, home: Path) -> None:
    (home / "gepad.toml").write_text("[hooks]\nusr = 'alice'\n")
    ran = hook("cursor", "cursor_before_submit_1.json")
    assert (ran.code, json.loads(ran.out), ran.err) == (0, {"continue": True}, "")


def run_process(home: Path, agent: str, stdin: int | bytes) -> subprocess.CompletedProcess[bytes]:
    """``python -m gepad hook AGENT`` as an editor runs it: its own process, a real stdin."""
    config = home / "gepad.toml"
    config.write_text('[hooks]\nuser = "alice"\n')
    env = {**os.environ, "GEPAD_CONFIG": str(config), "GEPAD_STATE_DIR": str(home / "state"),
           "GEPAD_SOCKET": str(home / "no-daemon.sock")}
    command = [sys.executable, "-m", "gepad", "hook", agent]
    if isinstance(stdin, bytes):
        return subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=60)
    return subprocess.run(command, stdin=stdin, capture_output=True, env=env, timeout=60)


def test_as_a_process_it_prints_nothing_and_exits_0(home: Path) -> None:
    done = run_process(home, "claude-code", b"\xff\xfe not json")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert "claude-code: ValueError: payload is not JSON" in (
        home / "state" / "hooks" / "hook.log").read_text()


def test_a_stdin_that_never_closes_does_not_hold_the_editor(home: Path) -> None:
    read, write = os.pipe()
    try:
        os.write(write, b'{"hook_event_name": "beforeSubmitPrompt"')  # and never an end
        done = run_process(home, "cursor", read)
    finally:
        os.close(read)
        os.close(write)
    assert (done.returncode, json.loads(done.stdout), done.stderr) == (0, {"continue": True}, b"")


def test_a_daemon_that_does_not_answer_leaves_the_event_spooled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    # A socket that accepts connections and never says a word: a hung daemon.
    path = home / "hung.sock"
    with socket.socket(socket.AF_UNIX) as hung:
        hung.bind(str(path))
        hung.listen(8)
        hook = Hook(capsys, monkeypatch, f"unix://{path}", home)
        (home / "gepad.toml").write_text('[hooks]\nuser = "alice"\ntimeout_seconds = 0.5\n')
        ran = hook("claude-code", "claude_code_prompt_undo.json")
    assert (ran.code, ran.out, ran.err) == (0, "", "")
    assert len(hook.spooled()) == 1
    assert "left in the spool: daemon unreachable" in hook.log()
