"""Checking what clients send before anything is stored.

Every check names the field and says what is wrong, because the caller is usually a program whose
author reads the message once, in a log. The limits here are documented in README.md.
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from gepad.errors import InvalidArgument
from gepad.feedback.event import FEEDBACK_KINDS, FEEDBACK_SOURCES, FeedbackEvent, event_to_json
from gepad.identity import Split, canonical_messages, example_id_of, split_of

__all__ = [
    "NewEvent",
    "check_components",
    "check_id",
    "check_program_name",
    "validate_event",
]

MAX_ID_CHARS = 128
MAX_NAME_CHARS = 128
MAX_TEXT_CHARS = 65_536
MAX_COMMENT_CHARS = 8_192
MAX_MESSAGES = 100
MAX_INPUT_CHARS = 262_144
MAX_METADATA_ENTRIES = 32
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 1_024
MAX_COMPONENTS = 16
MAX_FUTURE_SECONDS = 24 * 3600

_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_NAME_CHARS - 1}}}")
# Unicode controls (C0, DEL, C1), format characters (bidi controls, zero-width, BOM), surrogates
# and separators: the README's "no whitespace, control or format characters".
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
_ID = re.compile(rf"[^\s\x00-\x1f\x7f]{{1,{MAX_ID_CHARS}}}")
_ROLES = frozenset({"system", "user", "assistant", "tool"})


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A validated feedback event, ready for the writer."""

    user_id: str
    event_id: str
    program: str
    kind: str
    example_id: str
    split: Split | None
    input_json: str
    payload_json: str
    occurred_at: float
    received_at: float
    edited_components: Mapping[str, str] | None
    # A PROMPT_EDIT served pinned: a person's edit made in a file gepad delivered to (their words
    # stay until they unpin). Not part of the event the client sent, so not in its payload.
    pin: bool = False


def check_id(field: str, value: str) -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if not _ID.fullmatch(value) or (not value.isascii() and not _visible(value)):
        raise InvalidArgument(
            field, f"must be 1..{MAX_ID_CHARS} characters with no whitespace, control or "
            "format characters (bidirectional overrides, zero-width characters, BOMs)"
        )
    return value


def _visible(value: str) -> bool:
    """No character that hides or reorders what a person reads: an id shown in a log or a
    terminal must be the id (``adm\u202enimda`` displays as "admadmin")."""
    return not any(unicodedata.category(c) in _HIDDEN_CATEGORIES or c.isspace() for c in value)


def check_program_name(field: str, value: str) -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if not _NAME.fullmatch(value):
        raise InvalidArgument(
            field, f"must be 1..{MAX_NAME_CHARS} characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def check_components(field: str, components: Mapping[str, str]) -> dict[str, str]:
    if not components:
        raise InvalidArgument(field, "needs at least one component, e.g. {'system': '...'}")
    if len(components) > MAX_COMPONENTS:
        raise InvalidArgument(field, f"at most {MAX_COMPONENTS} components")
    for name, text in components.items():
        if not _NAME.fullmatch(name):
            raise InvalidArgument(f"{field}[{name!r}]", "component names are like program names")
        _check_text(f"{field}[{name!r}]", text, MAX_TEXT_CHARS, required=True)
    return dict(components)


def _check_text(field: str, value: str, limit: int, *, required: bool = False) -> None:
    if required and not value.strip():
        raise InvalidArgument(field, "is required")
    if len(value) > limit:
        raise InvalidArgument(field, f"is {len(value)} characters; the limit is {limit}")
    if "\x00" in value:
        raise InvalidArgument(field, "contains a NUL character")


def validate_event(ev: FeedbackEvent, *, now: float | None = None) -> NewEvent:
    """Turn a client's event into a NewEvent or raise InvalidArgument naming the field."""
    received_at = time.time() if now is None else now
    check_id("event.event_id", ev.event_id)
    check_id("event.user_id", ev.user_id)
    check_program_name("event.program", ev.program)
    kind = ev.kind
    if kind not in FEEDBACK_KINDS:
        raise InvalidArgument("event.kind", f"unknown value {kind}" if kind else "is required")
    if ev.source and ev.source not in FEEDBACK_SOURCES:
        raise InvalidArgument("event.source", f"unknown value {ev.source}")

    edited: dict[str, str] | None = None
    if kind == "prompt_edit":
        edited = check_components("event.edited_components", ev.edited_components)
    elif not ev.input:
        raise InvalidArgument("event.input", f"a {kind} event needs the input the model answered")
    elif ev.edited_components:
        raise InvalidArgument("event.edited_components", "only PROMPT_EDIT events carry them")

    if len(ev.input) > MAX_MESSAGES:
        raise InvalidArgument("event.input", f"at most {MAX_MESSAGES} messages")
    total = 0
    for i, (role, content) in enumerate(ev.input):
        if role not in _ROLES:
            raise InvalidArgument(
                f"event.input[{i}].role", f"must be one of {sorted(_ROLES)}, got {role!r}"
            )
        _check_text(f"event.input[{i}].content", content, MAX_TEXT_CHARS)
        total += len(content)
    if total > MAX_INPUT_CHARS:
        raise InvalidArgument("event.input", f"totals {total} characters; the limit is "
                              f"{MAX_INPUT_CHARS}")

    _check_text("event.output", ev.output, MAX_TEXT_CHARS,
                required=kind in {"acceptance", "rejection", "rating", "judge_verdict"})
    _check_text("event.correction", ev.correction, MAX_TEXT_CHARS, required=kind == "correction")
    _check_text("event.comment", ev.comment, MAX_COMMENT_CHARS)
    if ev.candidate_id:
        check_id("event.candidate_id", ev.candidate_id)
    if ev.source_id:
        check_id("event.source_id", ev.source_id)
    if ev.dimension and (len(ev.dimension) > 64 or not _NAME.fullmatch(ev.dimension)):
        raise InvalidArgument("event.dimension", "must be a name of at most 64 characters")

    if ev.score is not None:
        if not math.isfinite(ev.score) or not 0.0 <= ev.score <= 1.0:
            raise InvalidArgument("event.score", f"must be within 0..1, got {ev.score}")
    elif kind in {"rating", "judge_verdict"}:
        raise InvalidArgument("event.score", f"a {kind} event needs a score within 0..1")

    if len(ev.metadata) > MAX_METADATA_ENTRIES:
        raise InvalidArgument("event.metadata", f"at most {MAX_METADATA_ENTRIES} entries")
    for key, value in ev.metadata.items():
        if not key or len(key) > MAX_METADATA_KEY_CHARS:
            raise InvalidArgument("event.metadata", f"keys are 1..{MAX_METADATA_KEY_CHARS} chars")
        if any(unicodedata.category(c) in _CONTROL_CATEGORIES for c in key):
            raise InvalidArgument("event.metadata",
                                  f"key {key!r} contains a control or format character")
        _check_text(f"event.metadata[{key!r}]", value, MAX_METADATA_VALUE_CHARS)

    occurred_at = received_at if ev.occurred_at is None else ev.occurred_at
    # Whole seconds are compared, as a protobuf Timestamp counts them.
    if not (math.isfinite(occurred_at)
            and 0 <= math.floor(occurred_at) <= received_at + MAX_FUTURE_SECONDS):
        raise InvalidArgument(
            "event.occurred_at", "must be a valid time, not more than a day in the future"
        )

    input_json = canonical_messages(ev.input)
    ex_id = example_id_of(ev.user_id, ev.program, input_json) if ev.input else ""
    return NewEvent(
        user_id=ev.user_id,
        event_id=ev.event_id,
        program=ev.program,
        kind=kind,
        example_id=ex_id,
        split=split_of(ex_id) if ex_id else None,
        input_json=input_json,
        payload_json=event_to_json(ev),
        occurred_at=occurred_at,
        received_at=received_at,
        edited_components=edited,
    )
