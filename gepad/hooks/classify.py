"""What a person's next prompt says about the agent's previous answer, by fixed rules.

Deterministic on purpose: the same prompt always gives the same verdict, so a retried hook sends
the same event, and a person can read the rules (README, "Coding agents") and predict them. The
prompt is only matched, never interpreted further: it travels on as the event's comment, as data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["Verdict", "classify"]

# The last two are not the prompt's: the person undid or rewrote the agent's file edits
# (`gepad.hooks.file_edits`).
Signal = Literal["negative", "change_request", "moved_on", "approval", "reverted", "rewritten"]


@dataclass(frozen=True)
class Verdict:
    kind: Literal["acceptance", "rejection"]
    # Which rule decided, kept in the event's metadata so a wrong verdict can be traced to it.
    signal: Signal


def _words(*phrases: str) -> re.Pattern[str]:
    # Whole words only: "no" must not match "now add tests", "undo" not "undone".
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


def _opening(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"^(?:" + "|".join(phrases) + r")\b")


_APPROVAL = _opening(
    "thanks", "thank you", "thx", "great", "perfect", "nice", "looks good", "lgtm", "awesome",
    "excellent", "good job", "well done", "that works", "works now", "no problem", "no worries",
    "yes", "yep", "ok", "okay", "cool",
)
# "ok, but use tabs" approves nothing: the part after "but" is what the person wants changed.
_RESERVATION = _words("but", "instead", "however", "except", "although")
_NEGATIVE_OPENING = _opening("no", "nope", "nah", "wrong", "incorrect", "stop", "ugh")
_NEGATIVE = _words(
    "undo", "revert", "roll ?back", "put it back", "change it back", "that'?s wrong",
    "that is wrong", "this is wrong", "it'?s wrong", "not what i (?:asked|wanted|meant)",
    "that'?s not (?:right|it|what)", "doesn'?t work", "does not work", "didn'?t work",
    "did not work", "you broke", "it broke", "broke the", "still (?:broken|fails|failing|wrong)",
    "you deleted", "why did you", "i didn'?t ask", "i did not ask", "you shouldn'?t have",
    "you should not have",
)
_CHANGE_OPENING = _opening(
    "actually", "instead", "rather", "change (?:it|that|this)", "rename", "rewrite", "redo",
    "try again", "again", "make it", "can you make it", "please make it", "shorter", "simpler",
    "don'?t", "do not", "please don'?t", "it should", "that should", "this should",
    "you forgot", "you missed", "you should",
)


def _normal(prompt: str) -> str:
    text = prompt.strip().lower().replace("\u2019", "'")
    # Only the opening matters to these rules; a pasted log further down must not trip them.
    return re.sub(r"\s+", " ", text)[:240].lstrip(" \"'*_>-")


def classify(prompt: str) -> Verdict | None:
    """The verdict on the previous answer, or None when the prompt says nothing about it
    (empty, or a slash command such as ``/clear`` that talks to the agent, not about it)."""
    text = _normal(prompt)
    if not text or text.startswith("/"):
        return None
    if _APPROVAL.search(text) and not _NEGATIVE.search(text):
        if _RESERVATION.search(text):
            return Verdict("rejection", "change_request")
        return Verdict("acceptance", "approval")
    if _NEGATIVE_OPENING.search(text) or _NEGATIVE.search(text):
        return Verdict("rejection", "negative")
    if _CHANGE_OPENING.search(text):
        return Verdict("rejection", "change_request")
    return Verdict("acceptance", "moved_on")
