from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from gepad.lineage import CandidateRecord, ServedState
from gepad.serving.prompts import ServedPrompts

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


async def watched(
    prompts: ServedPrompts, *changes: Callable[[], object], watchers: int = 1
) -> list[ServedState]:
    """What watchers of u/p see while ``changes`` happen one by one, each once every watcher
    waits for the next change; then the prompts are closed, which ends the watches."""
    seen: list[ServedState] = []

    async def watch() -> None:
        async for prompt in prompts.watch("u", "p"):
            seen.append(prompt)

    async with anyio.create_task_group() as tg:
        for _ in range(watchers):
            tg.start_soon(watch)
        for change in changes:
            await anyio.wait_all_tasks_blocked()
            change()
        await anyio.wait_all_tasks_blocked()
        prompts.close()
    return seen


async def test_watchers_see_each_change_and_end_on_close() -> None:
    prompts = make()
    seen = await watched(prompts, lambda: prompts.publish(state(1, "one")), watchers=2)
    assert [p.version for p in seen] == [0, 0, 1, 1]


async def test_a_served_prompt_carries_what_was_served_and_when() -> None:
    prompts = make()
    prompts.publish(ServedState("u", "p", "c7", {"system": "hi", "style": "terse"}, 3, True,
                                1_700_000_000.25))
    got = prompts.get("u", "p")
    assert got is not None
    assert (got.user_id, got.program, got.candidate_id, dict(got.components), got.version,
            got.pinned) == ("u", "p", "c7", {"system": "hi", "style": "terse"}, 3, True)
    assert got.updated_at == 1_700_000_000.25
    # A user never served anything gets the program's seed, unpinned, at version 0.
    seed = prompts.get("v", "p")
    assert seed is not None
    assert (seed.user_id, seed.program, seed.candidate_id, dict(seed.components), seed.version,
            seed.pinned) == ("v", "p", "cseed", {"system": "seed"}, 0, False)


async def test_only_a_pinned_served_prompt_is_pinned() -> None:
    prompts = make()
    assert not prompts.is_pinned("u", "p")  # the seed
    prompts.publish(state(1, "one"))
    assert not prompts.is_pinned("u", "p")
    prompts.publish(ServedState("u", "p", "c0", {"system": "back"}, 2, True, 2.0))
    assert prompts.is_pinned("u", "p") and not prompts.is_pinned("w", "p")


async def test_a_version_already_served_is_not_served_again() -> None:
    prompts = make()
    prompts.load([state(2, "two")])
    prompts.publish(state(2, "same version, other text"))
    assert prompts.get("u", "p").components["system"] == "two"  # type: ignore[union-attr]


async def test_a_wake_without_a_change_shows_watchers_nothing() -> None:
    prompts = make()
    prompts.publish(state(1, "one"))
    seen = await watched(
        prompts,
        lambda: prompts.program_changed("p"),  # the seed changed; this user is not on it
        lambda: prompts.publish(state(2, "two")),
    )
    assert [p.version for p in seen] == [1, 2]


async def test_watchers_still_on_the_seed_see_a_new_seed() -> None:
    seeds = {"p": SEED}
    prompts = ServedPrompts(seeds.get)

    def new_seed() -> None:
        seeds["p"] = CandidateRecord("cseed2", (), "seed", {"system": "new seed"}, "", "", 1.0)
        prompts.program_changed("p")

    seen = await watched(prompts, new_seed)
    assert [p.candidate_id for p in seen] == ["cseed", "cseed2"]
