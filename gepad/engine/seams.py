"""The engine's I/O seams. Each one is a Protocol; `gepad.engine.memory` has in-memory versions."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .model import Candidate, EvalKey, Evaluation, Example, Usage


@dataclass(frozen=True, slots=True)
class RunnerOutput:
    output: str
    trace: Mapping[str, Any] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Scores per dimension in 0..1, their aggregate, and feedback text for reflection."""

    scores: Mapping[str, float]
    aggregate: float
    feedback: str = ""
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    usage: Usage = field(default_factory=Usage)
    # "stop", "length", ...; "length" marks a truncated answer that must not become a prompt.
    finish_reason: str | None = None


class EvaluationError(Exception):
    """An evaluator could not produce a verdict (e.g. a judge broke its contract).

    The engine never guesses a score for it: the rollout counts as failed and is not cached.
    `usage` carries what the failed attempts cost so budgets still see it.
    """

    def __init__(self, message: str, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = usage if usage is not None else Usage()


@runtime_checkable
class TaskRunner(Protocol):
    """Runs a candidate prompt on an example the way the host system would."""

    @property
    def version(self) -> str: ...

    async def run(self, candidate: Candidate, example: Example) -> RunnerOutput: ...


@runtime_checkable
class Evaluator(Protocol):
    @property
    def version(self) -> str: ...

    async def evaluate(self, example: Example, output: str) -> Verdict: ...


@runtime_checkable
class ReflectionLM(Protocol):
    async def complete(self, prompt: str) -> Reply: ...


@runtime_checkable
@runtime_checkable
class EvaluationStore(Protocol):
    """Read-only view of committed evaluations; the engine never writes through it."""

    def get(self, key: EvalKey) -> Evaluation | None: ...


@dataclass(frozen=True, slots=True)
class Seams:
    runner: TaskRunner
    evaluator: Evaluator
    reflection: ReflectionLM
    store: EvaluationStore
    # Seconds since the epoch, stamped on candidates and evaluations; tests pass a fixed one.
    clock: Callable[[], float] = time.time

    @property
    def scorer_version(self) -> str:
        """The evaluator-version part of an evaluation key (see `EvalKey`)."""
        return f"{self.evaluator.version}|{self.runner.version}"
