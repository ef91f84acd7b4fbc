"""Claude Code's hooks: what a ``Stop`` or ``UserPromptSubmit`` payload and the session's
transcript say about the agent's last answer.

Claude Code runs the hook with one JSON object on stdin (``session_id``, ``transcript_path``,
``hook_event_name``, and ``prompt`` for UserPromptSubmit). The transcript is JSON Lines, one
entry per message: ``{"type": "user" | "assistant", "uuid": ..., "message": {"role": ...,
"content": str | [blocks]}}``; the agent's ``tool_use`` blocks name its file edits. Its layout
is Claude Code's, not a promise, so every entry that does not look as expected is skipped rather
than trusted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gepad.hooks.file_edits import FileEdit, bounded, edits_from_tool_use
from gepad.hooks.outcome import Outcome, Subject
from gepad.hooks.sessions import Sessions
from gepad.hooks.turns import Exchange, event_for, judge

__all__ = ["AGENT", "handle", "read_exchanges"]

AGENT = "claude-code"
# A transcript can grow to many megabytes; the exchanges that matter are at its end.
_TAIL_BYTES = 4 * 1024 * 1024


def handle(payload: Mapping[str, Any], sessions: Sessions, who: Subject) -> Outcome:
    session = _text(payload, "session_id")
    event_name = _text(payload, "hook_event_name")
    transcript = payload.get("transcript_path")
    exchanges = read_exchanges(Path(transcript)) if isinstance(transcript, str) else []
    if event_name == "Stop":
        # The answer is final now; keep it for the next prompt to judge.
        answered = [e for e in exchanges if e.answer]
        if answered:
            sessions.keep(AGENT, session, answered[-1])
            return Outcome(note=f"kept turn {answered[-1].turn} of session {session}")
        return Outcome(note=f"no answer in the transcript of session {session}")
    if event_name == "UserPromptSubmit":
        prompt = payload.get("prompt")
        if not isinstance(prompt, str):
            raise ValueError("UserPromptSubmit without a prompt string")
        pending = sessions.pending(AGENT, session) or _previous(exchanges, prompt)
        cwd = payload.get("cwd")
        judged = None if pending is None else judge(
            pending, prompt, cwd=cwd if isinstance(cwd, str) else "")
        if pending is None or judged is None:
            return Outcome(note="nothing to judge")
        verdict, comment = judged
        sessions.forget(AGENT, session)
        event = event_for(pending, verdict, agent=AGENT, session=session, comment=comment,
                          user_id=who.user_id, program=who.program)
        return Outcome(events=[event], note=f"{verdict.kind} ({verdict.signal})")
    return Outcome(note=f"ignored hook event {event_name!r}")


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"payload lacks {key!r}")
    return value


def _previous(exchanges: list[Exchange], prompt: str) -> Exchange | None:
    """The last answered exchange before ``prompt`` (without a Stop hook, or after its file was
    lost). The new prompt may or may not be in the transcript yet: skip it if it is."""
    if exchanges and not exchanges[-1].answer and exchanges[-1].prompt == prompt:
        exchanges = exchanges[:-1]
    return exchanges[-1] if exchanges and exchanges[-1].answer else None


def read_exchanges(path: Path) -> list[Exchange]:
    """The person's prompts in order, each with the agent's final text answer ("" if none yet)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - _TAIL_BYTES))
            data = f.read()
    except OSError:
        return []
    lines = data.splitlines()
    if size > _TAIL_BYTES:
        lines = lines[1:]  # the first line was cut by the seek
    exchanges: list[Exchange] = []
    for entry in _entries(lines):
        message = entry.get("message")
        if not isinstance(message, dict) or entry.get("isSidechain") or entry.get("isMeta"):
            continue
        kind = entry.get("type")
        if kind == "user":
            prompt = _prompt_text(message.get("content"))
            if prompt is not None:
                turn = entry.get("uuid")
                exchanges.append(Exchange(
                    turn=turn if isinstance(turn, str) and turn else f"#{len(exchanges)}",
                    prompt=prompt, answer="",
                ))
        elif kind == "assistant" and exchanges:
            last = exchanges[-1]
            text = "\n".join(_texts(message.get("content"))).strip()
            cwd = entry.get("cwd")
            edits = _edits(message.get("content"), cwd if isinstance(cwd, str) else "")
            # Text between tool calls is narration; the last text is the answer.
            exchanges[-1] = Exchange(last.turn, last.prompt, text or last.answer,
                                     bounded(last.edits + tuple(edits)))
    return exchanges


def _edits(content: object, cwd: str) -> list[FileEdit]:
    if not isinstance(content, list):
        return []
    return [edit for b in content if isinstance(b, dict) and b.get("type") == "tool_use"
            for edit in edits_from_tool_use(b.get("name"), b.get("input"), cwd)]


def _entries(lines: Iterable[bytes]) -> Iterable[dict[str, Any]]:
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            yield entry


def _prompt_text(content: object) -> str | None:
    """The person's words, or None for a user-role entry that is not a prompt (a tool result,
    or the echo of a slash command such as ``<command-name>/clear</command-name>``)."""
    if isinstance(content, list):
        if any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
            return None
        content = "\n".join(_texts(content))
    if not isinstance(content, str) or not content.strip():
        return None
    if content.lstrip().startswith(("<command-", "<local-command-")):
        return None
    return content.strip()


def _texts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [b["text"] for b in content
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)]
