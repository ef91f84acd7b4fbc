"""Cursor's hooks (``.cursor/hooks.json``): ``beforeSubmitPrompt``, ``afterAgentResponse`` and
``stop`` payloads turned into a verdict on the agent's previous answer.

Cursor sends one JSON object on stdin with ``hook_event_name``, ``conversation_id`` and
``generation_id`` (one per prompt and its answer), plus ``prompt`` for beforeSubmitPrompt,
``text`` for afterAgentResponse, and ``file_path`` with ``edits`` (old and new strings) for
afterFileEdit. beforeSubmitPrompt must answer ``{"continue": true}`` or Cursor
may hold the prompt back; the other events read ``{}`` as "nothing to add".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gepad.hooks.file_edits import bounded, edits_from_tool_use
from gepad.hooks.outcome import Outcome, Subject
from gepad.hooks.sessions import Sessions
from gepad.hooks.turns import Exchange, event_for, judge

__all__ = ["AGENT", "CONTINUE", "NOTHING", "handle", "reply_for"]

AGENT = "cursor"
CONTINUE = '{"continue": true}'
NOTHING = "{}"


def reply_for(event_name: object) -> str:
    """What Cursor expects on stdout, even when the payload could not be read: a hook must
    never hold back the person's prompt."""
    return CONTINUE if event_name == "beforeSubmitPrompt" else NOTHING


def handle(payload: Mapping[str, Any], sessions: Sessions, who: Subject) -> Outcome:
    event_name = payload.get("hook_event_name")
    reply = reply_for(event_name)
    session = _text(payload, "conversation_id")
    if event_name == "beforeSubmitPrompt":
        prompt = _text(payload, "prompt")
        generation = _text(payload, "generation_id")
        pending = sessions.pending(AGENT, session)
        # The new exchange waits for its answer whatever the verdict on the old one.
        sessions.keep(AGENT, session, Exchange(turn=generation, prompt=prompt, answer=""))
        judged = None if pending is None or not pending.answer else judge(
            pending, prompt, cwd=_root(payload))
        if pending is None or judged is None:
            return Outcome(note="nothing to judge", reply=reply)
        verdict, comment = judged
        event = event_for(pending, verdict, agent=AGENT, session=session, comment=comment,
                          user_id=who.user_id, program=who.program)
        return Outcome(events=[event], note=f"{verdict.kind} ({verdict.signal})", reply=reply)
    if event_name in ("afterAgentResponse", "afterFileEdit"):
        pending = sessions.pending(AGENT, session)
        answered = payload.get("generation_id")
        if pending is None or (isinstance(answered, str) and answered != pending.turn):
            return Outcome(note="an answer to no prompt this hook saw", reply=reply)
        if event_name == "afterFileEdit":
            edits = edits_from_tool_use("MultiEdit", payload, _root(payload))
            sessions.keep(AGENT, session, Exchange(pending.turn, pending.prompt, pending.answer,
                                                   bounded(pending.edits + tuple(edits))))
            return Outcome(note=f"kept {len(edits)} edits of {pending.turn}", reply=reply)
        # Several responses in one generation: the last one is the answer.
        sessions.keep(AGENT, session, Exchange(pending.turn, pending.prompt,
                                               _text(payload, "text").strip(), pending.edits))
        return Outcome(note=f"kept the answer of {pending.turn}", reply=reply)
    # stop and anything else: nothing to learn, but a chance to flush the spool.
    return Outcome(note=f"hook event {event_name!r}", reply=reply)


def _root(payload: Mapping[str, Any]) -> str:
    roots = payload.get("workspace_roots")
    return roots[0] if isinstance(roots, list) and roots and isinstance(roots[0], str) else ""


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"payload lacks {key!r}")
    return value
