"""Held-out measurement: a prompt's oracle score on requests no optimizer saw, relative to the
ideal prompt (one that states every hidden preference of the user exactly), and whether a change
of prompt lowered it by more than the held-out set's own noise."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from bench.world.dataset import WorldExample
from bench.world.judge import judge
from bench.world.reflection import HEADER
from bench.world.task_lm import respond
from bench.world.users import User
from bench.world.world import World


def ideal_prompt(user: User) -> str:
    return "\n".join([HEADER, *(f"- {p.text()}" for p in user.preferences)])


def per_example(world: World, prompt: str, examples: Sequence[WorldExample]) -> list[float]:
    """The oracle's score of ``prompt`` on each example (uncounted, no latency)."""
    return [
        judge(world.user, ex, respond(prompt, ex, world.seed, world.follow_p).text).aggregate
        for ex in examples
    ]


def lowered_beyond_noise(before: Sequence[float], after: Sequence[float], z: float = 2.0) -> bool:
    """True when ``after`` is lower than ``before`` on the same examples by more than ``z``
    standard errors of the mean paired difference (the task LM is deterministic per prompt and
    request, so what varies is which requests the held-out set happens to hold)."""
    diffs = [a - b for a, b in zip(after, before, strict=True)]
    if len(diffs) < 2:
        return False
    mean = statistics.fmean(diffs)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    return mean < 0 and -mean > z * se


class HeldOut:
    """One user's held-out set and ideal score; prompts' scores are cached by text."""

    def __init__(self, world: World, test: Sequence[WorldExample]) -> None:
        self.world, self.test = world, list(test)
        self._cache: dict[str, list[float]] = {}
        self.ideal = statistics.fmean(self.scores(ideal_prompt(world.user)))

    def scores(self, prompt: str) -> list[float]:
        if prompt not in self._cache:
            self._cache[prompt] = per_example(self.world, prompt, self.test)
        return self._cache[prompt]

    def ratio(self, prompt: str) -> float:
        """Mean held-out score of ``prompt`` divided by the ideal prompt's."""
        return statistics.fmean(self.scores(prompt)) / self.ideal

    def lowered(self, before: str, after: str) -> bool:
        return lowered_beyond_noise(self.scores(before), self.scores(after))
