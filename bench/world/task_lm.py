"""The simulated task LM: it reads the rules its prompt states and writes a reply that follows each
applicable rule with some probability; whatever no rule covers is left to its own habits.

Deterministic in (world seed, prompt text, example id), like a model at temperature 0 whose output
still varies with every change of the prompt.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import get_args

from bench.world.dataset import WorldExample
from bench.world.vocab import Directive, Feature, Kind, Value, parse_directives

FEATURES: tuple[Feature, ...] = get_args(Feature)

# Markers the renderer writes and the judge detects.
GREETING = "Hi there!"
SIGNOFF = "Let me know if you need anything else."
FORMAL_MARK = "Please note that"
CASUAL_MARK = "no worries"
EMOJI = "🙂"
TLDR = "TL;DR:"

_FILLER: dict[Kind, tuple[str, ...]] = {
    "code": (
        "call",
        "the",
        "function",
        "with",
        "a",
        "copy",
        "then",
        "check",
        "each",
        "item",
        "loop",
    ),
    "billing": (
        "your",
        "invoice",
        "shows",
        "the",
        "charge",
        "account",
        "card",
        "refund",
        "plan",
        "date",
    ),
    "howto": (
        "open",
        "settings",
        "then",
        "choose",
        "sync",
        "and",
        "confirm",
        "the",
        "new",
        "device",
    ),
    "chitchat": (
        "fun",
        "fact",
        "many",
        "people",
        "think",
        "that",
        "it",
        "is",
        "quite",
        "old",
        "really",
    ),
}
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


def count_words(text: str) -> int:
    """Words in a reply, not counting indented code lines (the judge uses the same count)."""
    return sum(
        len(_WORD.findall(line)) for line in text.splitlines() if not line.startswith("    ")
    )


@dataclass(frozen=True)
class Style:
    """The choices behind one reply; ``words`` is the reply's target length."""

    bullets: bool
    numbered: bool
    emoji: bool
    greeting: bool
    signoff: bool
    code_example: bool
    tone: str  # "formal", "casual" or "neutral"
    tldr: bool
    words: int


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _habits(seed: int, example: WorldExample) -> dict[str, Value]:
    """What the model does on this request when no rule says otherwise."""
    rng = random.Random(f"habit:{seed}:{example.id}")
    k = example.kind
    return {
        "bullets": rng.random() < (0.5 if k == "code" else 0.3),
        "numbered": rng.random() < (0.4 if k == "howto" else 0.1),
        "emoji": rng.random() < 0.4,
        "greeting": rng.random() < 0.5,
        "signoff": rng.random() < 0.4,
        "code_example": rng.random() < (0.5 if k == "code" else 0.05),
        "tone": rng.choice(("formal", "casual", "neutral")),
        "tldr": rng.random() < 0.15,
        "max_words": rng.randint(35, 150),
    }


def _choose(rules: list[Directive], kind: Kind, rng: random.Random) -> Directive | None:
    """Pick the rule the model heeds for one feature: scoped rules usually beat general ones, and
    rules that contradict each other at the same level are a coin flip."""
    scoped = [r for r in rules if r.scope == kind]
    general = [r for r in rules if r.scope is None]
    roll = rng.random()
    if scoped and general and {r.value for r in scoped} != {r.value for r in general}:
        group = scoped if roll < 0.85 else general
    else:
        group = scoped or general
    if not group:
        return None
    return group[rng.randrange(len(group))]


def decide(prompt: str, example: WorldExample, seed: int, follow_p: float = 0.9) -> Style:
    directives = parse_directives(prompt)
    # Long prompts dilute attention: past eight rules each one is followed a little less often.
    p = max(0.5, follow_p - 0.02 * max(0, len(directives) - 8))
    rng = random.Random(f"task:{seed}:{_digest(prompt)}:{example.id}")
    chosen: dict[str, Value] = _habits(seed, example)
    for feature in FEATURES:
        rules = [d for d in directives if d.feature == feature and d.scope in (None, example.kind)]
        rule = _choose(rules, example.kind, rng)
        follows = rng.random() < p  # drawn for every feature so noise stays aligned across prompts
        if rule is None or not follows:
            continue
        if feature == "max_words":
            limit = int(rule.value)
            chosen["max_words"] = max(12, min(int(chosen["max_words"]), limit - rng.randint(2, 12)))
        else:
            chosen[feature] = rule.value
    return Style(
        bullets=bool(chosen["bullets"]),
        numbered=bool(chosen["numbered"]),
        emoji=bool(chosen["emoji"]),
        greeting=bool(chosen["greeting"]),
        signoff=bool(chosen["signoff"]),
        code_example=bool(chosen["code_example"]),
        tone=str(chosen["tone"]),
        tldr=bool(chosen["tldr"]),
        words=int(chosen["max_words"]),
    )


def render(style: Style, example: WorldExample) -> str:
    rng = random.Random(f"render:{example.id}")
    head: list[str] = []
    if style.greeting:
        head.append(GREETING)
    if style.tldr:
        head.append(f"{TLDR} short answer first.")
    tail = [SIGNOFF] if style.signoff else []
    lead = f"{FORMAL_MARK} " if style.tone == "formal" else ""
    trail = f", {CASUAL_MARK}" if style.tone == "casual" else ""
    fixed = count_words("\n".join([*head, *tail, lead, trail]))
    n_body = max(6, style.words - fixed)
    vocab = _FILLER[example.kind]
    words = [rng.choice(vocab) for _ in range(n_body)]
    sentences: list[str] = []
    i = 0
    while i < len(words):
        size = min(len(words) - i, rng.randint(7, 10))
        sentences.append(" ".join(words[i : i + size]))
        i += size
    sentences[0] = lead + sentences[0]
    sentences[-1] = sentences[-1] + trail
    if style.emoji:
        sentences[-1] += f" {EMOJI}"
    if style.numbered:
        body = [f"{n}. {s}." for n, s in enumerate(sentences, 1)]
    elif style.bullets:
        body = [f"- {s}." for s in sentences]
    else:
        body = [" ".join(f"{s}." for s in sentences)]
    code = ["    result = solve(data)", "    print(result)"] if style.code_example else []
    return "\n".join([*head, *body, *code, *tail])


@dataclass(frozen=True)
class TaskReply:
    text: str
    style: Style
    prompt_tokens: int
    completion_tokens: int


def respond(prompt: str, example: WorldExample, seed: int, follow_p: float = 0.9) -> TaskReply:
    style = decide(prompt, example, seed, follow_p)
    text = render(style, example)
    return TaskReply(
        text=text,
        style=style,
        prompt_tokens=(len(prompt) + len(example.request)) // 4 + 1,
        completion_tokens=len(text) // 4 + 1,
    )
