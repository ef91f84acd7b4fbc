from __future__ import annotations

import anyio
import pytest

from gepad.serving.prompts import ServedPrompts
from gepad.store.lineage import CandidateRecord, ServedState

pytestmark = pytest.mark.anyio

SEED = CandidateRecord("cseed", (), "seed", {"system": "seed"}, "", "", 0.0)


def state(version: int, text: str) -> ServedState:
    return ServedState("u", "p", f"c{version}", {"system": text}, version, False, 1.0)


def make() -> ServedPrompts:
    return ServedPrompts(lambda program: SEED if program == "p" else None)


async def test_seed_until_served_and_versions_never_go_back() -> None:
    prompts = make()
    assert prompts.get("u", "p").version == 0  # type: ignore[union-attr]
    assert prompts.get("u", "other") is None
    prompts.publish(state(2, "two"))
    prompts.publish(state(1, "late and stale"))
    assert prompts.get("u", "p").components["system"] == "two"  # type: ignore[union-attr]


async def test_watchers_see_each_change_and_end_on_close() -> None:
    prompts = make()
    seen: list[int] = []

    async def watch() -> None:
        async for prompt in prompts.watch("u", "p"):
            seen.append(prompt.version)

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        tg.start_soon(watch)
        await anyio.sleep(0.01)
        prompts.publish(state(1, "one"))
        await anyio.sleep(0.01)
        prompts.close()
    assert seen == [0, 0, 1, 1]
