"""How simulated people word a complaint in a feedback comment, and reading such a comment back.

People do not write in the world's canonical sentences: they say "no emojis please" or "way too
long, keep it under 50 words", name one or two things per comment, and mention the kind of
request only some of the time ("for billing questions, ..."). The phrasings are deliberately
neither prompt directives (the task LM must not obey a comment that leaks into a prompt) nor the
judge's "this user wants ..." sentences (the reflection LM learns from the judge's words, not from
raw comments), so whatever reads a comment has to understand the user's own words.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from bench.world.vocab import KIND_NOUN, NOUN_KIND, Directive, Feature, Kind, Value

# Two wordings per preference; a user picks one per complaint.
_WORDINGS: dict[tuple[Feature, Value], tuple[str, str]] = {
    ("emoji", False): ("no emojis please", "please drop the emojis"),
    ("emoji", True): ("an emoji would be nice", "add a smiley, it feels cold without one"),
    ("bullets", True): ("put it in bullet points please", "bullet points would be easier to read"),
    ("bullets", False): ("no lists please, just write it out", "please don't use bullet points"),
    ("numbered", True): ("number the steps please", "I need numbered steps"),
    ("greeting", False): ("skip the greeting", "no need to say hi, just answer"),
    ("greeting", True): ("say hi first", "a quick hello first would be nice"),
    ("signoff", True): ("offer more help at the end", "ask if I need anything else at the end"),
    ("code_example", True): ("show me a code example", "include a code snippet"),
    ("tone", "formal"): ("please keep it formal", "too chatty, be more formal"),
    ("tone", "casual"): ("relax, be more casual", "too stiff, loosen up"),
    ("tldr", True): ("give me a tl;dr first", "start with a one-line summary"),
}
_MAX_WORDS_WORDINGS = ("way too long, keep it under {n} words", "shorter please, under {n} words")

_BY_WORDING: dict[str, tuple[Feature, Value]] = {
    w.lower(): fv for fv, pair in _WORDINGS.items() for w in pair
}
_MAX_WORDS = re.compile(r"(?:way too long, keep it|shorter please,) under (\d+) words")
_SCOPE = re.compile(r"^for ([a-z-]+) questions,? ")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_LEAD = re.compile(r"^(?:also|and|plus),?\s+")


def wording(pref: Directive, rng: random.Random, state_scope: bool) -> str:
    """One complaint as a person writes it (no final period), naming the request kind only if
    ``state_scope`` and the preference has one."""
    if pref.feature == "max_words":
        text = rng.choice(_MAX_WORDS_WORDINGS).format(n=pref.value)
    else:
        text = rng.choice(_WORDINGS[(pref.feature, pref.value)])
    if pref.scope is not None and state_scope:
        text = f"for {KIND_NOUN[pref.scope]} questions, {text}"
    return text


def compose(complaints: Sequence[str]) -> str:
    """One comment from one or two complaints: "No emojis please. Also, skip the greeting."."""
    sentences = [c[0].upper() + c[1:] + "." for c in complaints[:1]]
    sentences += [f"Also, {c}." for c in complaints[1:]]
    return " ".join(sentences)


def parse_complaint(sentence: str) -> Directive | None:
    """The preference one sentence of a comment asks for, or None if it asks for none."""
    text = _LEAD.sub("", sentence.strip().lower()).rstrip(".!?").strip()
    scope: Kind | None = None
    m = _SCOPE.match(text)
    if m:
        scope = NOUN_KIND.get(m.group(1))
        if scope is None:
            return None
        text = text[m.end():]
    m = _MAX_WORDS.fullmatch(text)
    if m:
        return Directive("max_words", int(m.group(1)), scope)
    found = _BY_WORDING.get(text)
    return Directive(found[0], found[1], scope) if found else None


def parse_comment(comment: str) -> list[Directive]:
    """Every preference a comment asks for, in order, duplicates removed."""
    seen: dict[Directive, None] = {}
    for sentence in _SENTENCE_END.split(comment.strip()):
        pref = parse_complaint(sentence)
        if pref is not None:
            seen.setdefault(pref, None)
    return list(seen)
