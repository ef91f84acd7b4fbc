"""One exchange of a coding-agent session, the verdict the person's next prompt and their
files give it, and the feedback event that verdict becomes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from gepad.client.events import feedback_event
from gepad.hooks.classify import Verdict, classify
from gepad.hooks.file_edits import FileEdit, fate_of, read_text
from gepad.v1 import gepad_pb2 as pb

__all__ = ["Exchange", "event_for", "event_id_for", "judge"]

# The daemon's limits (README, "Access and limits"); a longer text would refuse the whole event.
MAX_OUTPUT_CHARS = 65_536
MAX_COMMENT_CHARS = 8_192


@dataclass(frozen=True)
class Exchange:
    """A person's prompt and the agent's answer to it; ``turn`` names it within its session."""

    turn: str
    prompt: str
    answer: str
    edits: tuple[FileEdit, ...] = ()  # the agent's file edits in this turn


def judge(exchange: Exchange, next_prompt: str, *, cwd: str = "",
          read: Callable[[str], str | None] = read_text) -> tuple[Verdict, str] | None:
    """The verdict on ``exchange`` once the person wrote ``next_prompt``, and the event's
    comment; None when the prompt says nothing about it (a slash command). Files speak louder
    than a moving-on prompt: edits the person undid or rewrote make a rejection however the
    prompt reads. The prompt's own words are the comment of a rejection it states."""
    verdict = classify(next_prompt)
    if verdict is None:
        return None
    fate = fate_of(exchange.edits, read)
    files = fate.comment(cwd)
    if verdict.kind == "rejection":
        return verdict, next_prompt + (f"\n({files})" if files else "")
    if fate.signal is not None:
        return Verdict("rejection", fate.signal), files
    # Moving on says nothing about *what* was right, so the next task's words are not kept:
    # they would read as a comment on this answer.
    return verdict, ""


def event_id_for(agent: str, session: str, turn: str) -> str:
    """Stable for (agent, session, turn), so a hook run twice for one turn stores one event.

    Hashed because session and turn ids come from the editor with no length or charset promise,
    and the daemon accepts ids of at most 128 characters without whitespace.
    """
    digest = hashlib.sha256(f"{agent}\0{session}\0{turn}".encode()).hexdigest()[:40]
    return f"{agent}-{digest}"


def event_for(
    exchange: Exchange, verdict: Verdict, *, agent: str, session: str, comment: str,
    user_id: str, program: str,
) -> pb.FeedbackEvent:
    return feedback_event(
        user_id=user_id, program=program, kind=verdict.kind,
        input=exchange.prompt[:MAX_OUTPUT_CHARS], output=exchange.answer[-MAX_OUTPUT_CHARS:],
        comment=comment[:MAX_COMMENT_CHARS],
        source="human", source_id=f"{agent}-hook",
        metadata={"hook": agent, "signal": verdict.signal, "session_id": session[:1024]},
        event_id=event_id_for(agent, session, exchange.turn),
    )
