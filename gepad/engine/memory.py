"""Tiny in-memory implementations of the seams, for tests and for the benchmark.

Like httpx's MockTransport: each wraps a plain function or a dict, nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence

from .model import Candidate, EvalKey, Evaluation, Example, Usage
from .seams import Reply, RunnerOutput, Verdict


class MemoryEvaluationStore:
    def __init__(self, evaluations: Iterable[Evaluation] = ()) -> None:
        self._rows: dict[EvalKey, Evaluation] = {}
        self.add(evaluations)

    def get(self, key: EvalKey) -> Evaluation | None:
        return self._rows.get(key)

    def add(self, evaluations: Iterable[Evaluation]) -> None:
        for evaluation in evaluations:
            self._rows[evaluation.key] = evaluation

    def __len__(self) -> int:
        return len(self._rows)


RunFn = Callable[[Candidate, Example], "str | RunnerOutput | Awaitable[str | RunnerOutput]"]
EvalFn = Callable[[Example, str], "float | Verdict | Awaitable[float | Verdict]"]


class _FunctionSeam:
    """A seam over a plain or async function; counts calls so tests can prove the cache works."""

    def __init__(self, fn: Callable[..., object], version: str) -> None:
        self._fn = fn
        self._version = version
        self.calls = 0

    @property
    def version(self) -> str:
        return self._version

    async def _call(self, *args: object) -> object:
        self.calls += 1
        result = self._fn(*args)
        return await result if isinstance(result, Awaitable) else result


class FunctionRunner(_FunctionSeam):
    """A TaskRunner over a function returning the output (or a RunnerOutput)."""

    def __init__(self, fn: RunFn, version: str = "fn-runner") -> None:
        super().__init__(fn, version)

    async def run(self, candidate: Candidate, example: Example) -> RunnerOutput:
        result = await self._call(candidate, example)
        return result if isinstance(result, RunnerOutput) else RunnerOutput(output=str(result))


class FunctionEvaluator(_FunctionSeam):
    """An Evaluator over a function returning a score in 0..1 (or a Verdict)."""

    def __init__(self, fn: EvalFn, version: str = "fn-evaluator") -> None:
        super().__init__(fn, version)

    async def evaluate(self, example: Example, output: str) -> Verdict:
        result = await self._call(example, output)
        if isinstance(result, Verdict):
            return result
        score = float(result)  # type: ignore[arg-type]
        return Verdict(scores={"score": score}, aggregate=score, feedback="")


class ScriptedReflectionLM:
    """Test double: answers with a function of the prompt (or a fixed list of replies)."""

    def __init__(
        self,
        replies: Callable[[str], str | Reply] | Sequence[str | Reply],
        usage: Usage | None = None,
    ) -> None:
        self._replies = replies
        self._usage = usage if usage is not None else Usage()
        self.prompts: list[str] = []

    async def complete(self, prompt: str) -> Reply:
        self.prompts.append(prompt)
        if callable(self._replies):
            reply = self._replies(prompt)
        else:
            reply = self._replies[(len(self.prompts) - 1) % len(self._replies)]
        if isinstance(reply, Reply):
            return reply
        return Reply(text=reply, usage=self._usage, finish_reason="stop")

