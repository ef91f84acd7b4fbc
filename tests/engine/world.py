"""A small deterministic world for engine tests.

Each example wants some keywords (in its reference). A candidate's output is its prompt text, so
its score on an example is the share of wanted keywords its components contain; the feedback
names the missing ones. The scripted reflection LM adds the first missing keyword it is told
about, so reflection makes real, checkable progress. Merge synthesis takes the union of words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import anyio

from gepad.engine import (
    Budget,
    Candidate,
    ChatMessage,
    Dataset,
    EngineConfig,
    EngineState,
    Example,
    FunctionEvaluator,
    FunctionRunner,
    MemoryEvaluationStore,
    Reply,
    RunnerOutput,
    ScriptedReflectionLM,
    Seams,
    StepResult,
    Usage,
    Verdict,
    step,
)
from gepad.engine.reflection import BEGIN, END

WORDS = [f"kw{i}" for i in range(12)]


def example(i: int, split: str, wanted: Sequence[str], note: str = "") -> Example:
    return Example(
        id=f"{split}-{i:03d}",
        split=split,  # type: ignore[arg-type]
        input=(ChatMessage("user", f"question {i}"),),
        reference=" ".join(wanted),
        notes=(note,) if note else (),
    )


def dataset(n_train: int = 9, n_val: int = 6, n_gate: int = 4, seed: int = 0) -> Dataset:
    import random

    rnd = random.Random(seed)
    out: list[Example] = []
    for split, n in (("train", n_train), ("val", n_val), ("gate", n_gate)):
        for i in range(n):
            out.append(example(i, split, rnd.sample(WORDS, 3)))
    return Dataset(out)


def run(candidate: Candidate, ex: Example) -> RunnerOutput:
    text = " ".join(candidate.components[k] for k in sorted(candidate.components))
    return RunnerOutput(output=text, trace={"example": ex.id}, usage=Usage(tokens=7, calls=1))


def evaluate(ex: Example, output: str) -> Verdict:
    wanted = (ex.reference or "").split()
    have = set(output.split())
    missing = [w for w in wanted if w not in have]
    score = (len(wanted) - len(missing)) / len(wanted) if wanted else 1.0
    feedback = f"missing: {' '.join(missing)}" if missing else "all good"
    return Verdict(
        scores={"coverage": score, "brevity": 1.0 if len(output) < 200 else 0.5},
        aggregate=score,
        feedback=feedback,
        usage=Usage(tokens=5, calls=1),
    )


_BLOCK = re.compile(r"\[(DATA-[^\s\]]+) ([^\]]+)\]\n(.*?)\n\[/\1\]", re.DOTALL)


def reflect(prompt: str) -> Reply:
    blocks = [(label, body) for _, label, body in _BLOCK.findall(prompt)]
    if prompt.startswith("Two improved versions"):
        texts = [body for label, body in blocks if label in ("version A", "version B")]
        words: list[str] = []
        for t in texts:
            words += [w for w in t.split() if w not in words]
        return Reply(f"union\n{BEGIN}\n{' '.join(words)}\n{END}", Usage(tokens=20, calls=1), "stop")
    current = next(body for label, body in blocks if label == "current text")
    missing: list[str] = []
    for label, body in blocks:
        if label == "evaluator feedback" and body.startswith("missing: "):
            missing += [w for w in body[len("missing: ") :].split() if w not in missing]
    have = set(current.split())
    add = [w for w in missing if w not in have][:1]
    new = current + (" " + add[0] if add else " please")
    return Reply(f"add {add}\n{BEGIN}\n{new}\n{END}", Usage(tokens=20, calls=1), "stop")


def seams(store: MemoryEvaluationStore | None = None, evaluator_version: str = "v1") -> Seams:
    return Seams(
        runner=FunctionRunner(run),
        evaluator=FunctionEvaluator(evaluate, version=evaluator_version),
        reflection=ScriptedReflectionLM(reflect),
        store=store if store is not None else MemoryEvaluationStore(),
        clock=lambda: 1000.0,
    )


def seed_state(components: dict[str, str] | None = None, seed: int = 0) -> EngineState:
    comps = components or {"system": "answer", "style": "plain"}
    return EngineState.initial([Candidate.create(comps)], seed=seed)


async def drive(
    state: EngineState,
    data: Dataset,
    s: Seams,
    config: EngineConfig,
    budgets: Sequence[Budget],
    steps: int,
) -> tuple[EngineState, tuple[Budget, ...], list[StepResult]]:
    """Runs steps like the daemon: commit each step's evaluations, carry state and budgets."""
    assert isinstance(s.store, MemoryEvaluationStore)
    results: list[StepResult] = []
    current = tuple(budgets)
    for _ in range(steps):
        r = await step(state, data, s, config, current)
        s.store.add(r.new_evaluations)
        state, current = r.state, r.budgets
        results.append(r)
    return state, current, results


def run_sync(coro_fn, *args):  # type: ignore[no-untyped-def]
    return anyio.run(coro_fn, *args)
