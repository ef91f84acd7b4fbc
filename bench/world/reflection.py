"""The simulated reflection LM: reads a meta-prompt (the current instructions plus judged examples),
turns the judge's complaints into prompt rules, and writes a new instruction in a fenced block.

It is deliberately imperfect in the ways real reflection models are: it sometimes generalizes a
conditional lesson to every request (drops the "for billing questions" part), sometimes forgets a
rule the old prompt had, sometimes ignores a complaint, and now and then its reply is cut off.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from bench.world.vocab import NOUN_KIND, Directive, Kind, parse_desire, parse_directives

HEADER = "You are a helpful assistant answering this user's requests."

_MARKERS = re.compile(r"<<<[A-Z][A-Z ]*>>>")
_LESSON = re.compile(r"(?:for ([a-z-]+) questions )?this user (.+?)\.(?=\s|$)", re.IGNORECASE)


@dataclass(frozen=True)
class ReflectionNoise:
    adopt_p: float = 0.85  # chance a complaint becomes a rule at all
    unscope_p: float = 0.3  # chance a conditional lesson loses its condition
    forget_p: float = 0.08  # chance each existing rule is left out of the rewrite
    truncate_p: float = 0.04  # chance the reply is cut off mid-way (finish_reason "length")


@dataclass(frozen=True)
class ReflectionReply:
    text: str
    truncated: bool
    prompt_tokens: int
    completion_tokens: int


def lessons(prompt: str) -> list[Directive]:
    """The judge's complaints quoted in a meta-prompt, as the rules they ask for (deduplicated)."""
    found: dict[Directive, None] = {}
    for m in _LESSON.finditer(prompt):
        noun, desire = m.group(1), m.group(2)
        parsed = parse_desire(desire)
        if parsed is None:
            continue
        scope: Kind | None = NOUN_KIND.get(noun.lower()) if noun else None
        found.setdefault(Directive(parsed[0], parsed[1], scope), None)
    return list(found)


def rewrite(
    current: list[Directive], learned: list[Directive], rng: random.Random, noise: ReflectionNoise
) -> list[Directive]:
    rules = [r for r in current if rng.random() >= noise.forget_p]
    order = list(learned)
    rng.shuffle(order)
    for lesson in order:
        if rng.random() >= noise.adopt_p:
            continue
        rule = lesson.unscoped() if lesson.scope and rng.random() < noise.unscope_p else lesson
        # A new rule replaces what the old prompt said about the same feature at the same scope.
        rules = [r for r in rules if not (r.feature == rule.feature and r.scope == rule.scope)]
        rules.append(rule)
    return rules


def _answer_markers(prompt: str) -> tuple[str, str]:
    """Like an instruction-following model, answer in the format the meta-prompt asks for: the
    begin/end markers it names last, else a fenced block."""
    markers = _MARKERS.findall(prompt)
    return (markers[-2], markers[-1]) if len(markers) >= 2 else ("```", "```")


def reflect(prompt: str, seed: int, noise: ReflectionNoise | None = None) -> ReflectionReply:
    noise = noise or ReflectionNoise()
    digest = hashlib.blake2b(prompt.encode(), digest_size=8).hexdigest()
    rng = random.Random(f"reflect:{seed}:{digest}")
    # Everything in the meta-prompt that reads as a rule is taken as the current instruction; the
    # judged examples never contain rule sentences, only complaints.
    rules = rewrite(parse_directives(prompt), lessons(prompt), rng, noise)
    body = "\n".join([HEADER, *(f"- {r.text()}" for r in rules)])
    begin, end = _answer_markers(prompt)
    text = f"Here is the improved instruction:\n{begin}\n{body}\n{end}"
    truncated = rng.random() < noise.truncate_p
    if truncated:
        # Cut somewhere inside the instruction body: the fence opens but never closes.
        start = text.index(begin) + len(begin) + 1
        text = text[: rng.randint(start + 1, len(text) - 5)]
    return ReflectionReply(
        text=text,
        truncated=truncated,
        prompt_tokens=len(prompt) // 4 + 1,
        completion_tokens=len(text) // 4 + 1,
    )
