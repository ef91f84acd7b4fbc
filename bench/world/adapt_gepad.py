"""The world behind gepad's engine seams (TaskRunner, Evaluator, ReflectionLM).

gepad's ``Example`` carries the request as chat messages; the world also needs the request's kind
(a real model infers it from the text), so the adapters look the world example up by id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bench.world.dataset import WorldExample
from bench.world.world import COMPONENT, World
from gepad.engine.model import Candidate, ChatMessage, Example, Split, Usage
from gepad.engine.seams import Reply, RunnerOutput, Verdict


def to_engine_example(ex: WorldExample, split: Split) -> Example:
    return Example(id=ex.id, split=split, input=(ChatMessage("user", ex.request),))


class Catalog:
    """World examples by id; grows as days pass in the incremental scenario."""

    def __init__(self, examples: Iterable[WorldExample] = ()) -> None:
        self.by_id: dict[str, WorldExample] = {}
        self.add(examples)

    def add(self, examples: Iterable[WorldExample]) -> None:
        for ex in examples:
            self.by_id[ex.id] = ex

    def __getitem__(self, example_id: str) -> WorldExample:
        return self.by_id[example_id]


class WorldRunner:
    def __init__(self, world: World, catalog: Catalog) -> None:
        self.world, self.catalog = world, catalog

    @property
    def version(self) -> str:
        return f"world-task-{self.world.seed}"

    async def run(self, candidate: Candidate, example: Example) -> RunnerOutput:
        ex = self.catalog[example.id]
        reply = await self.world.arun_task(candidate.components[COMPONENT], ex)
        tokens = reply.prompt_tokens + reply.completion_tokens
        return RunnerOutput(output=reply.text, trace={"kind": ex.kind}, usage=Usage(tokens, 0.0, 1))


class WorldEvaluator:
    def __init__(self, world: World, catalog: Catalog) -> None:
        self.world, self.catalog = world, catalog

    @property
    def version(self) -> str:
        return f"world-judge-{self.world.user.id}"

    async def evaluate(self, example: Example, output: str) -> Verdict:
        verdict = await self.world.ajudge(self.catalog[example.id], output)
        tokens = (len(output) + len(verdict.feedback)) // 4 + 1
        return Verdict(
            scores=dict(verdict.scores),
            aggregate=verdict.aggregate,
            feedback=verdict.feedback,
            usage=Usage(tokens, 0.0, 1),
        )


class WorldReflection:
    def __init__(self, world: World) -> None:
        self.world = world

    async def complete(self, prompt: str) -> Reply:
        reply = await self.world.areflect(prompt)
        return Reply(
            text=reply.text,
            usage=Usage(reply.prompt_tokens + reply.completion_tokens, 0.0, 1),
            # A real API reports a cut-off answer; gepad must not adopt it.
            finish_reason="length" if reply.truncated else "stop",
        )


def engine_examples(
    splits: Mapping[Split, Iterable[WorldExample]],
) -> list[Example]:
    return [to_engine_example(ex, split) for split, exs in splits.items() for ex in exs]
