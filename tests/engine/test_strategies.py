from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from gepad.engine import (
    AtLeastBestParent,
    BeatsParent,
    Candidate,
    ComponentsInTurn,
    EngineConfig,
    FunctionRunner,
    ParetoWeighted,
    RunnerOutput,
    ScriptedReflectionLM,
    Strategies,
    step,
)
from gepad.engine.pareto import compute_frontier

from . import world

pytestmark = pytest.mark.anyio
CFG = EngineConfig(max_merges=0)


def test_parents_are_drawn_in_proportion_to_the_instances_they_win() -> None:
    # Row 0 wins 1 instance, row 2 wins 3, row 1 wins nothing (dominated by row 2).
    obj = np.array([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 0.5, 0.5, 0.5],
        [0.0, 1.0, 1.0, 1.0],
    ])
    front = compute_frontier(obj)
    rng = np.random.default_rng(7)
    draws = Counter(ParetoWeighted().choose(front, rng) for _ in range(4000))
    assert set(draws) == {0, 2}
    assert abs(draws[2] / 4000 - 0.75) < 0.03, draws


def test_the_default_decisions() -> None:
    parent = Candidate.create({"system": "s", "style": "t", "examples": "e"})
    assert [ComponentsInTurn().choose(parent, turn) for turn in range(4)] == [
        "examples", "style", "system", "examples"]
    assert BeatsParent().accepts([0.5, 0.5], [0.5, 0.6])
    assert not BeatsParent().accepts([0.5, 0.5], [1.0, 0.0])  # a tie is not progress
    assert AtLeastBestParent().accepts([0.2], [0.7], [0.7])
    assert not AtLeastBestParent().accepts([0.2], [0.7], [0.6])


class Always:
    def __init__(self, name: str) -> None:
        self.name = name

    def choose(self, parent: Candidate, turn: int) -> str:
        return self.name


class Never:
    def accepts(self, parent: Sequence[float], child: Sequence[float]) -> bool:
        return False


async def step_once(strategies: Strategies) -> tuple[object, Candidate]:
    data, s = world.dataset(), world.seams()
    state, _, _ = await world.drive(world.seed_state(), data, s, CFG, (), 1)  # val catch-up
    r = await step(state, data, s, CFG, (), strategies=strategies)
    return r, state.candidates[0]


async def test_a_step_follows_the_strategies_it_is_given() -> None:
    r, seed = await step_once(Strategies(component=Always("style")))
    assert r.event == "accepted", r.detail  # type: ignore[attr-defined]
    child = r.state.candidates[-1]  # type: ignore[attr-defined]
    assert child.components["system"] == seed.components["system"]
    assert child.components["style"] != seed.components["style"]

    r, _ = await step_once(Strategies(reflection=Never()))
    assert r.event == "rejected" and r.detail.endswith("not accepted")  # type: ignore[attr-defined]


async def test_reflection_sees_what_the_runner_reports_about_its_run() -> None:
    def run(candidate: Candidate, ex: object) -> RunnerOutput:
        out = world.run(candidate, ex)  # type: ignore[arg-type]
        return replace(out, trace={"tool_calls": ["search(q='cats')"], "finish_reason": "length"})

    lm = ScriptedReflectionLM(world.reflect)
    data = world.dataset()
    s = replace(world.seams(), runner=FunctionRunner(run), reflection=lm)
    await world.drive(world.seed_state(), data, s, CFG, (), 2)
    (prompt,) = lm.prompts
    assert ' execution trace]\n{"finish_reason": "length", "tool_calls": ["search(q=\'cats\')"]}' \
        in prompt
