"""The shared vocabulary of the simulated world: request kinds, reply features, and the three ways
the world talks about a feature value.

* a *directive* is what a prompt says ("Never use emojis.") and what the task LM understands;
* a *desire* is how the judge describes what the user wants ("this user never wants emojis");
* an *observation* is how the judge describes what the reply did ("The answer used emojis").

Keeping the three phrasings distinct matters: the task LM must not obey feedback text that leaks
into a prompt, and the reflection LM must translate desires into directives itself (and can get
the scope wrong while doing so), which is the part of the loop an optimizer has to be robust to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["code", "billing", "howto", "chitchat"]
KINDS: tuple[Kind, ...] = ("code", "billing", "howto", "chitchat")

# How requests of each kind are named in prompts and feedback ("for billing questions, ...").
KIND_NOUN: dict[Kind, str] = {
    "code": "code",
    "billing": "billing",
    "howto": "how-to",
    "chitchat": "small-talk",
}
NOUN_KIND: dict[str, Kind] = {noun: kind for kind, noun in KIND_NOUN.items()}

Feature = Literal[
    "bullets",
    "numbered",
    "emoji",
    "greeting",
    "signoff",
    "code_example",
    "tone",
    "tldr",
    "max_words",
]
Value = bool | str | int

# Which judge dimension a feature is scored under.
DIMENSION: dict[Feature, str] = {
    "bullets": "format",
    "numbered": "format",
    "tldr": "format",
    "code_example": "format",
    "emoji": "tone",
    "tone": "tone",
    "greeting": "tone",
    "signoff": "tone",
    "max_words": "length",
}
DIMENSIONS: tuple[str, ...] = ("format", "tone", "length")


@dataclass(frozen=True)
class Directive:
    """One instruction a prompt can carry: ``feature`` := ``value``, for ``scope`` or always."""

    feature: Feature
    value: Value
    scope: Kind | None = None

    def text(self) -> str:
        """The canonical sentence for this directive, as the reflection LM writes it."""
        body = directive_phrase(self.feature, self.value)
        if self.scope is None:
            return body[0].upper() + body[1:] + "."
        return f"For {KIND_NOUN[self.scope]} questions, {body}."

    def unscoped(self) -> Directive:
        return Directive(self.feature, self.value, None)


# Directive phrases the task LM understands (lower case, no trailing period).
_DIRECTIVE_PHRASES: dict[tuple[Feature, Value], str] = {
    ("bullets", True): "use bullet points",
    ("bullets", False): "write in plain prose without bullet points",
    ("numbered", True): "give numbered steps",
    ("emoji", False): "never use emojis",
    ("emoji", True): "add a friendly emoji",
    ("greeting", False): "skip greetings and get straight to the point",
    ("greeting", True): "open with a short greeting",
    ("signoff", True): "end by offering further help",
    ("code_example", True): "include a short code example",
    ("tone", "formal"): "keep a formal tone",
    ("tone", "casual"): "keep a casual, relaxed tone",
    ("tldr", True): "start with a one-line tl;dr",
}
_PHRASE_DIRECTIVE: dict[str, tuple[Feature, Value]] = {
    p: fv for fv, p in _DIRECTIVE_PHRASES.items()
}
_MAX_WORDS_PHRASE = re.compile(r"stay under (\d+) words")


def directive_phrase(feature: Feature, value: Value) -> str:
    if feature == "max_words":
        return f"stay under {value} words"
    phrase = _DIRECTIVE_PHRASES[(feature, value)]
    return phrase.replace("tl;dr", "TL;DR")


_SCOPED_LINE = re.compile(r"^for ([a-z-]+) questions, (.+)$")
_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def parse_directive(line: str) -> Directive | None:
    """Parse one prompt line into a directive, or None if the line is not one.

    Matching is on the whole line, so feedback sentences that merely mention a feature ("this user
    never wants emojis") are never mistaken for instructions.
    """
    text = _LIST_MARK.sub("", line).strip().lower().rstrip(".").strip()
    scope: Kind | None = None
    m = _SCOPED_LINE.match(text)
    if m:
        if m.group(1) not in NOUN_KIND:
            return None
        scope = NOUN_KIND[m.group(1)]
        text = m.group(2).strip()
    if text in _PHRASE_DIRECTIVE:
        feature, value = _PHRASE_DIRECTIVE[text]
        return Directive(feature, value, scope)
    m = _MAX_WORDS_PHRASE.fullmatch(text)
    if m:
        return Directive("max_words", int(m.group(1)), scope)
    return None


def parse_directives(prompt: str) -> list[Directive]:
    """All directives in a prompt, in order, duplicates removed."""
    seen: dict[Directive, None] = {}
    for line in prompt.splitlines():
        d = parse_directive(line)
        if d is not None:
            seen.setdefault(d, None)
    return list(seen)


# The judge's words for what a user wants ("this user <desire>").
_DESIRES: dict[tuple[Feature, Value], str] = {
    ("bullets", True): "wants bullet points",
    ("bullets", False): "wants plain prose without bullet points",
    ("numbered", True): "wants numbered steps",
    ("emoji", False): "never wants emojis",
    ("emoji", True): "likes a friendly emoji",
    ("greeting", False): "wants no greetings, straight to the point",
    ("greeting", True): "likes a short greeting first",
    ("signoff", True): "wants an offer of further help at the end",
    ("code_example", True): "wants a short code example",
    ("tone", "formal"): "wants a formal tone",
    ("tone", "casual"): "wants a casual, relaxed tone",
    ("tldr", True): "wants a one-line TL;DR first",
}
_DESIRE_LOOKUP: dict[str, tuple[Feature, Value]] = {d.lower(): fv for fv, d in _DESIRES.items()}
_MAX_WORDS_DESIRE = re.compile(r"wants replies under (\d+) words")


def desire_phrase(feature: Feature, value: Value) -> str:
    if feature == "max_words":
        return f"wants replies under {value} words"
    return _DESIRES[(feature, value)]


def parse_desire(text: str) -> tuple[Feature, Value] | None:
    t = text.strip().lower()
    if t in _DESIRE_LOOKUP:
        return _DESIRE_LOOKUP[t]
    m = _MAX_WORDS_DESIRE.fullmatch(t)
    if m:
        return ("max_words", int(m.group(1)))
    return None
