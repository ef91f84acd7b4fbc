"""The prompt cache's policy, with a fake clock and a fake fetcher: no daemon, no sockets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import grpc
import pytest

from gepad.client import NotFound, PermissionDenied, PromptCache, Unavailable
from gepad.v1 import gepad_pb2 as pb

USER, PROGRAM = "alice", "editor.system"
Refresh = Callable[[], Coroutine[Any, Any, None]]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Daemon:
    """A fake fetcher: serves ``prompt`` (or raises ``error``) and counts calls."""

    def __init__(self) -> None:
        self.version = 0
        self.error: Exception | None = None
        self.calls = 0

    def prompt(self) -> pb.Prompt:
        return pb.Prompt(
            user_id=USER, program=PROGRAM, candidate_id=f"cand-{self.version}",
            components={"system": f"prompt v{self.version}"}, version=self.version,
        )

    async def fetch(self) -> pb.Prompt:
        return self.fetch_sync()

    def fetch_sync(self) -> pb.Prompt:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.prompt()


def down() -> Unavailable:
    return Unavailable(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> PromptCache:
    return PromptCache(max_age=5, stale_max_age=60, clock=clock)


@pytest.fixture
def daemon() -> Daemon:
    return Daemon()


class Spawner:
    """Collects background refreshes so a test decides when they run."""

    def __init__(self) -> None:
        self.pending: list[Refresh] = []

    def __call__(self, fn: Refresh) -> None:
        self.pending.append(fn)

    async def run_all(self) -> None:
        pending, self.pending = self.pending, []
        for fn in pending:
            await fn()


async def get(
    cache: PromptCache, daemon: Daemon, spawn: Spawner, fallback: Any = None
) -> pb.Prompt:
    fetch: Callable[[], Awaitable[pb.Prompt]] = daemon.fetch
    return await cache.aget(USER, PROGRAM, fetch, spawn=spawn, fallback=fallback)


@pytest.mark.anyio
async def test_fresh_entry_is_served_without_asking_the_daemon(
    cache: PromptCache, daemon: Daemon, clock: Clock
) -> None:
    spawn = Spawner()
    first = await get(cache, daemon, spawn)
    daemon.version = 1
    clock.now += 4.9
    again = await get(cache, daemon, spawn)
    assert again.version == first.version == 0
    assert daemon.calls == 1
    assert spawn.pending == []


@pytest.mark.anyio
async def test_stale_entry_is_served_at_once_and_refreshed_once_in_background(
    cache: PromptCache, daemon: Daemon, clock: Clock
) -> None:
    spawn = Spawner()
    await get(cache, daemon, spawn)
    daemon.version = 1
    clock.now += 30
    # Three requests see it stale before the refresh runs: all get the old prompt at once...
    for _ in range(3):
        assert (await get(cache, daemon, spawn)).version == 0
    # ...and only one refresh is queued.
    assert len(spawn.pending) == 1
    assert daemon.calls == 1
    await spawn.run_all()
    assert daemon.calls == 2
    assert (await get(cache, daemon, spawn)).version == 1
    assert daemon.calls == 2  # the refreshed entry is fresh again


@pytest.mark.anyio
async def test_expired_entry_is_fetched_before_answering(
    cache: PromptCache, daemon: Daemon, clock: Clock
) -> None:
    spawn = Spawner()
    await get(cache, daemon, spawn)
    daemon.version = 1
    clock.now += 60
    assert (await get(cache, daemon, spawn)).version == 1
    assert spawn.pending == []
    assert daemon.calls == 2


@pytest.mark.anyio
async def test_fallback_when_daemon_unreachable_and_nothing_cached(
    cache: PromptCache, daemon: Daemon
) -> None:
    daemon.error = down()
    prompt = await get(cache, daemon, Spawner(), fallback="You are a helpful assistant.")
    assert dict(prompt.components) == {"system": "You are a helpful assistant."}
    # No candidate: feedback recorded against the fallback is attributed to none.
    assert prompt.candidate_id == ""
    assert (prompt.user_id, prompt.program) == (USER, PROGRAM)

    multi = await get(cache, daemon, Spawner(), fallback={"system": "s", "style": "t"})
    assert dict(multi.components) == {"system": "s", "style": "t"}
    # A fallback is never cached: once the daemon is back its prompt is served.
    daemon.error = None
    assert (await get(cache, daemon, Spawner())).candidate_id == "cand-0"


@pytest.mark.anyio
async def test_unreachable_without_fallback_raises(cache: PromptCache, daemon: Daemon) -> None:
    daemon.error = down()
    with pytest.raises(Unavailable):
        await get(cache, daemon, Spawner())


@pytest.mark.anyio
async def test_last_prompt_beats_fallback_when_daemon_goes_away(
    cache: PromptCache, daemon: Daemon, clock: Clock
) -> None:
    spawn = Spawner()
    await get(cache, daemon, spawn)
    daemon.error = down()
    clock.now += 3600  # long expired
    prompt = await get(cache, daemon, spawn, fallback="generic")
    assert prompt.candidate_id == "cand-0"
    assert prompt.components["system"] == "prompt v0"


@pytest.mark.anyio
async def test_an_unregistered_program_gets_the_fallback_other_errors_are_raised(
    cache: PromptCache, daemon: Daemon
) -> None:
    daemon.error = NotFound(grpc.StatusCode.NOT_FOUND, "program 'editor.system' does not exist")
    assert (await get(cache, daemon, Spawner(), fallback="generic")).components == {
        "system": "generic"}
    with pytest.raises(NotFound, match="does not exist"):
        await get(cache, daemon, Spawner())
    daemon.error = PermissionDenied(grpc.StatusCode.PERMISSION_DENIED, "not yours")
    with pytest.raises(PermissionDenied):
        await get(cache, daemon, Spawner(), fallback="generic")


@pytest.mark.anyio
async def test_failed_background_refresh_keeps_stale_entry_and_retries_later(
    cache: PromptCache, daemon: Daemon, clock: Clock
) -> None:
    spawn = Spawner()
    await get(cache, daemon, spawn)
    clock.now += 10
    daemon.error = down()
    assert (await get(cache, daemon, spawn)).version == 0
    await spawn.run_all()  # fails, logged, not raised
    assert (await get(cache, daemon, spawn)).version == 0
    assert len(spawn.pending) == 1  # the claim was released: a new refresh is queued
    daemon.error, daemon.version = None, 2
    await spawn.run_all()
    assert (await get(cache, daemon, spawn)).version == 2


def test_sync_path_follows_the_same_policy(
    cache: PromptCache, daemon: Daemon, clock: Clock
) -> None:
    queued: list[Callable[[], None]] = []

    def get_sync(fallback: Any = None) -> pb.Prompt:
        return cache.get_or_fetch(
            USER, PROGRAM, daemon.fetch_sync, spawn=queued.append, fallback=fallback
        )

    assert get_sync().version == 0
    daemon.version = 1
    clock.now += 10
    assert get_sync().version == 0  # stale, served at once
    assert len(queued) == 1
    queued.pop()()
    assert get_sync().version == 1
    cache.invalidate(USER)
    daemon.error = down()
    assert get_sync(fallback="fb").components["system"] == "fb"


def test_late_answer_does_not_replace_newer_prompt(cache: PromptCache, clock: Clock) -> None:
    # A refresh asked at t=1000 and answered late with v1, after a watch stored v2 at t=1001.
    v1 = pb.Prompt(user_id=USER, program=PROGRAM, candidate_id="c1", version=1)
    v2 = pb.Prompt(user_id=USER, program=PROGRAM, candidate_id="c2", version=2)
    clock.now = 1001
    assert cache.store(v2)
    assert not cache.store(v1, fetched_at=1000)
    entry = cache.get(USER, PROGRAM)
    assert entry is not None and entry.prompt.candidate_id == "c2"


def test_lower_version_asked_for_later_wins(cache: PromptCache, clock: Clock) -> None:
    # The daemon's state was reset: its answer to a newer request is the truth, not a race.
    cache.store(pb.Prompt(user_id=USER, program=PROGRAM, candidate_id="old", version=7))
    clock.now += 1
    assert cache.store(pb.Prompt(user_id=USER, program=PROGRAM, candidate_id="new", version=0))
    entry = cache.get(USER, PROGRAM)
    assert entry is not None and entry.prompt.candidate_id == "new"


def test_ages_must_be_ordered() -> None:
    for max_age, stale_max_age in ((10, 5), (-1, 5)):
        with pytest.raises(ValueError, match=r"^need 0 <= max_age <= stale_max_age$"):
            PromptCache(max_age=max_age, stale_max_age=stale_max_age)
    # Both bounds are inclusive: never fresh, or never stale.
    assert PromptCache(max_age=0, stale_max_age=0).max_age == 0
    assert PromptCache(max_age=0.5, stale_max_age=0.5).stale_max_age == 0.5


def test_an_older_version_asked_for_at_the_same_instant_wins(cache: PromptCache) -> None:
    # A rollback answered to a request made on the same clock tick as the newer prompt's fetch.
    cache.store(pb.Prompt(user_id=USER, program=PROGRAM, candidate_id="new", version=3))
    assert cache.store(pb.Prompt(user_id=USER, program=PROGRAM, candidate_id="back", version=2))
    entry = cache.get(USER, PROGRAM)
    assert entry is not None and entry.prompt.candidate_id == "back"


@pytest.mark.anyio
async def test_a_refresh_that_cannot_start_is_tried_again_by_the_next_request(
    cache: PromptCache, daemon: Daemon, clock: Clock
) -> None:
    spawn = Spawner()
    await get(cache, daemon, spawn)
    clock.now += 10  # stale

    def no_threads(fn: Refresh) -> None:
        raise RuntimeError("can't start new thread")

    with pytest.raises(RuntimeError, match="can't start new thread"):
        await cache.aget(USER, PROGRAM, daemon.fetch, spawn=no_threads)
    assert (await get(cache, daemon, spawn)).version == 0  # still answered from the cache
    assert len(spawn.pending) == 1  # and this time the refresh starts


class SlowDaemon(Daemon):
    """Each answer takes ``latency`` seconds of the fake clock to arrive."""

    def __init__(self, clock: Clock, latency: float) -> None:
        super().__init__()
        self.clock, self.latency = clock, latency

    def fetch_sync(self) -> pb.Prompt:
        self.clock.now += self.latency
        return super().fetch_sync()


@pytest.mark.anyio
@pytest.mark.parametrize("path", ["async", "async-refresh", "sync", "sync-refresh"])
async def test_an_answer_is_as_old_as_its_request(
    cache: PromptCache, clock: Clock, path: str
) -> None:
    """A prompt that took 4 s to arrive was the daemon's truth 4 s before it arrived: it goes
    stale at max_age after the request, not after the answer."""
    daemon = SlowDaemon(clock, latency=4)
    queued: list[Callable[[], None]] = []
    spawn = Spawner()

    async def get() -> pb.Prompt:
        if path.startswith("async"):
            return await cache.aget(USER, PROGRAM, daemon.fetch, spawn=spawn)
        return cache.get_or_fetch(USER, PROGRAM, daemon.fetch_sync, spawn=queued.append)

    await get()
    if path.endswith("refresh"):
        clock.now += 10  # stale: the next get answers from cache and refreshes in background
        await get()
        await spawn.run_all()
        while queued:
            queued.pop()()
    requested_at = clock.now - daemon.latency
    entry = cache.get(USER, PROGRAM)
    assert entry is not None and entry.fetched_at == requested_at
    calls = daemon.calls
    clock.now = requested_at + cache.max_age  # 1 s after the answer, max_age after the request
    await get()
    assert len(spawn.pending) + len(queued) >= 1 or daemon.calls > calls, "served as fresh"


def test_defaults_are_five_and_sixty_seconds_on_the_monotonic_clock() -> None:
    import time

    cache = PromptCache()
    assert (cache.max_age, cache.stale_max_age, cache.clock) == (5.0, 60.0, time.monotonic)


@pytest.mark.anyio
@pytest.mark.parametrize("sync", [False, True])
async def test_what_the_host_sees_when_gepad_is_unreachable_is_logged_with_the_cause(
    cache: PromptCache, daemon: Daemon, clock: Clock, caplog: pytest.LogCaptureFixture,
    sync: bool,
) -> None:
    spawn, queued = Spawner(), list[Callable[[], None]]()

    async def get(fallback: Any = None) -> pb.Prompt:
        if sync:
            return cache.get_or_fetch(USER, PROGRAM, daemon.fetch_sync, spawn=queued.append,
                                      fallback=fallback)
        return await get_async(fallback)

    async def get_async(fallback: Any) -> pb.Prompt:
        return await cache.aget(USER, PROGRAM, daemon.fetch, spawn=spawn, fallback=fallback)

    caplog.set_level("WARNING", logger="gepad.client")
    daemon.error = down()
    assert (await get(fallback="fb")).components["system"] == "fb"
    assert caplog.messages[-1] == f"gepad unreachable ({down()}); serving the fallback prompt"
    daemon.error = None
    await get()
    daemon.error, clock.now = down(), clock.now + 100
    assert (await get(fallback="fb")).version == 0  # the last prompt, not the fallback
    assert caplog.messages[-1] == f"gepad unreachable ({down()}); serving the last prompt it sent"
    # A failed background refresh is logged with the prompt it was for and the error's trace.
    caplog.clear()
    clock.now -= 90  # stale again
    await get()
    await spawn.run_all()
    while queued:
        queued.pop()()
    (record,) = [r for r in caplog.records if "refreshing" in r.getMessage()]
    assert record.getMessage() == f"gepad: refreshing the prompt for {USER}/{PROGRAM} failed"
    assert record.exc_info and isinstance(record.exc_info[1], Unavailable)


def test_a_refresh_of_the_same_version_keeps_the_newer_stamp(cache: PromptCache,
                                                              clock: Clock) -> None:
    prompt = pb.Prompt(user_id=USER, program=PROGRAM, candidate_id="c1", version=1)
    clock.now = 1010
    cache.store(prompt)
    assert cache.store(prompt, fetched_at=1000)  # same version, asked earlier: still true
    entry = cache.get(USER, PROGRAM)
    assert entry is not None and entry.fetched_at == 1010
    assert cache.store(pb.Prompt(user_id=USER, program=PROGRAM, version=2),
                       fetched_at=1000)
    entry = cache.get(USER, PROGRAM)
    assert entry is not None and entry.fetched_at == 1000  # a new version: its own stamp


def test_invalidate_forgets_only_what_matches_both(cache: PromptCache) -> None:
    for user in ("ann", "ben"):
        for program in ("p", "q"):
            cache.store(pb.Prompt(user_id=user, program=program))
    cache.invalidate("ann", "p")
    assert [cache.get(u, p) is None for u in ("ann", "ben") for p in ("p", "q")] == [
        True, False, False, False]
    cache.invalidate(program="q")
    assert [cache.get(u, p) is None for u in ("ann", "ben") for p in ("p", "q")] == [
        True, True, False, True]
    cache.invalidate()
    assert cache.get("ben", "p") is None
