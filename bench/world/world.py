"""One simulated world: a user, a task LM, a judge and a reflection LM, with optional latency and
call counters. Both optimizers under test talk to the same World through their own adapters, so
their metric calls are counted by the same code."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio

from bench.world.dataset import WorldExample
from bench.world.judge import Judgement, judge
from bench.world.realistic_judge import Told, judge_told
from bench.world.reflection import HEADER, ReflectionNoise, ReflectionReply, reflect
from bench.world.task_lm import TaskReply, respond
from bench.world.users import User

SEED_PROMPT = HEADER
COMPONENT = "system"


@dataclass
class Counters:
    task_calls: int = 0
    judge_calls: int = 0  # one judged rollout is one metric call
    reflection_calls: int = 0

    @property
    def metric_calls(self) -> int:
        return self.judge_calls


@dataclass
class World:
    user: User
    seed: int
    latency_s: float = 0.0  # added to every LLM call (task, judge, reflection)
    follow_p: float = 0.9
    noise: ReflectionNoise = field(default_factory=ReflectionNoise)
    counters: Counters = field(default_factory=Counters)
    # gepa's adapter may call from a thread pool; counting must not lose increments.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # -- synchronous calls (for gepa) -------------------------------------------------------
    def run_task(self, prompt: str, example: WorldExample) -> TaskReply:
        with self._lock:
            self.counters.task_calls += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        return respond(prompt, example, self.seed, self.follow_p)

    def judge(self, example: WorldExample, text: str) -> Judgement:
        with self._lock:
            self.counters.judge_calls += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        return judge(self.user, example, text)

    def judge_told(self, told: Told, example: WorldExample, text: str) -> Judgement:
        """A judge that knows only ``told`` (see ``realistic_judge``); counted like ``judge``."""
        with self._lock:
            self.counters.judge_calls += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        return judge_told(told, example, text)

    def reflect(self, prompt: str) -> ReflectionReply:
        with self._lock:
            self.counters.reflection_calls += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        return reflect(prompt, self.seed, self.noise)

    # -- asynchronous calls (for gepad) ------------------------------------------------------
    async def arun_task(self, prompt: str, example: WorldExample) -> TaskReply:
        self.counters.task_calls += 1
        if self.latency_s:
            await anyio.sleep(self.latency_s)
        return respond(prompt, example, self.seed, self.follow_p)

    async def ajudge(self, example: WorldExample, text: str) -> Judgement:
        self.counters.judge_calls += 1
        if self.latency_s:
            await anyio.sleep(self.latency_s)
        return judge(self.user, example, text)

    async def areflect(self, prompt: str) -> ReflectionReply:
        self.counters.reflection_calls += 1
        if self.latency_s:
            await anyio.sleep(self.latency_s)
        return reflect(prompt, self.seed, self.noise)

    # -- ground truth (uncounted, no latency) -------------------------------------------------
    def true_score(self, prompt: str, examples: Sequence[WorldExample]) -> float:
        """Mean judge aggregate of ``prompt`` on ``examples``: the benchmark's held-out measure."""
        if not examples:
            return 0.0
        total = 0.0
        for ex in examples:
            total += judge(
                self.user, ex, respond(prompt, ex, self.seed, self.follow_p).text
            ).aggregate
        return total / len(examples)
