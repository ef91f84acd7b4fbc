"""The judge model's side of gepad's rubric contract, played by the world.

Asked to update one user's rubric, it reads the complaints in each quoted feedback comment (in
the user's own words, see ``comments``) and turns each into a named item: a one-sentence
description in the world's "this user wants ..." phrasing, a scope ("all requests", or the kind
of request the comment named), and the ids of the events that said it. It knows no more than
the comments say: a complaint that did not name its kind of request becomes an item for all
requests, as a careful reader would make it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench.world.comments import parse_comment
from bench.world.vocab import KIND_NOUN, NOUN_KIND, Directive, Kind, desire_phrase, parse_desire

ALL_REQUESTS = "all requests"
# The system message of a rubric request starts with these words (gepad's contract).
EXTRACTION_MARK = "You maintain one user's rubric"

# Short snake_case names per preference; scoped items get the kind as a prefix.
_NAMES: dict[tuple[str, object], str] = {
    ("emoji", False): "no_emojis",
    ("emoji", True): "friendly_emoji",
    ("bullets", True): "bullet_points",
    ("bullets", False): "plain_prose",
    ("numbered", True): "numbered_steps",
    ("greeting", False): "no_greeting",
    ("greeting", True): "short_greeting",
    ("signoff", True): "offer_more_help",
    ("code_example", True): "code_example",
    ("tone", "formal"): "formal_tone",
    ("tone", "casual"): "casual_tone",
    ("tldr", True): "tldr_first",
}
_SCOPED_DESCRIPTION = re.compile(r"^for ([a-z-]+) questions,? this user (.+?)\.?$")
_PLAIN_DESCRIPTION = re.compile(r"^this user (.+?)\.?$")
_SCOPE_LABEL = re.compile(r"^([a-z-]+) questions$")


@dataclass(frozen=True)
class RubricItem:
    name: str
    description: str
    scope: str
    evidence: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "scope": self.scope,
                "evidence": list(self.evidence)}


def item_name(pref: Directive) -> str:
    base = f"under_{pref.value}_words" if pref.feature == "max_words" else _NAMES[
        (pref.feature, pref.value)]
    if pref.scope is None:
        return base
    return KIND_NOUN[pref.scope].replace("-", "_") + "_" + base


def describe(pref: Directive) -> str:
    desire = desire_phrase(pref.feature, pref.value)
    if pref.scope is None:
        return f"This user {desire}."
    return f"For {KIND_NOUN[pref.scope]} questions this user {desire}."


def scope_text(scope: Kind | None) -> str:
    return ALL_REQUESTS if scope is None else f"{KIND_NOUN[scope]} questions"


def parse_scope(text: str) -> Kind | None:
    """A scope as an item states it; anything not naming a known kind applies to all requests."""
    m = _SCOPE_LABEL.match(text.strip().lower())
    return NOUN_KIND.get(m.group(1)) if m else None


def parse_item(description: str, scope: str) -> Directive | None:
    """The preference an item describes (its scope from the description, else from ``scope``)."""
    text = description.strip().lower()
    m = _SCOPED_DESCRIPTION.match(text)
    if m:
        kind = NOUN_KIND.get(m.group(1))
        found = parse_desire(m.group(2))
        return Directive(found[0], found[1], kind) if found and kind else None
    m = _PLAIN_DESCRIPTION.match(text)
    found = parse_desire(m.group(1)) if m else None
    return Directive(found[0], found[1], parse_scope(scope)) if found else None


def item_for(pref: Directive, evidence: Sequence[str]) -> RubricItem:
    return RubricItem(item_name(pref), describe(pref), scope_text(pref.scope), tuple(evidence))


def update(current: Iterable[RubricItem], comments: Mapping[str, str]) -> list[RubricItem]:
    """The full updated list: ``current`` plus an item per complaint in ``comments`` (event id ->
    comment). A new item replaces an old one that asks the opposite for the same scope (the
    user's latest word wins); repeats add their event to the item's evidence."""
    items: dict[str, RubricItem] = {i.name: i for i in current}
    for event_id, comment in comments.items():
        for pref in parse_comment(comment):
            name = item_name(pref)
            old = items.get(name)
            if old is not None:
                if event_id not in old.evidence:
                    items[name] = RubricItem(old.name, old.description, old.scope,
                                             (*old.evidence, event_id))
                continue
            for other_name, other in list(items.items()):
                said = parse_item(other.description, other.scope)
                if (said is not None and said.feature == pref.feature
                        and said.scope == pref.scope and said.value != pref.value):
                    del items[other_name]
            items[name] = item_for(pref, (event_id,))
    return list(items.values())


# -------------------------------------------------------------------- the request and answer

_BLOCK = re.compile(r"\[(\S+) ([^\]\n]+)\]\n(.*?)\n\[/\1\]", re.S)
_FEEDBACK_LABEL = re.compile(r"^feedback (\S+) \((\w+)\)$")


def quoted_blocks(text: str) -> list[tuple[str, str]]:
    """(label, body) of every fenced data block in a gepad prompt, in order."""
    return [(m.group(2), m.group(3)) for m in _BLOCK.finditer(text)]


def _current_items(body: str) -> list[RubricItem]:
    try:
        data = json.loads(body)
    except json.JSONDecodeError:
        return []
    raw = data.get("items", []) if isinstance(data, dict) else data
    items = []
    for entry in raw if isinstance(raw, list) else []:
        if isinstance(entry, dict) and entry.get("name"):
            items.append(RubricItem(
                str(entry["name"]), str(entry.get("description", "")),
                str(entry.get("scope", ALL_REQUESTS)),
                tuple(str(e) for e in entry.get("evidence", [])),
            ))
    return items


def answer_extraction(user_message: str) -> str:
    """The JSON answer to one rubric-update request (the user message of it)."""
    current: list[RubricItem] = []
    comments: dict[str, str] = {}
    for label, body in quoted_blocks(user_message):
        if label == "current rubric":
            current = _current_items(body)
            continue
        m = _FEEDBACK_LABEL.match(label)
        if m is None:
            continue
        for line in body.splitlines():
            if line.startswith("comment:"):
                comments[m.group(1)] = line.removeprefix("comment:").strip()
    items = update(current, comments)
    return json.dumps({"items": [i.as_json() for i in items]})
