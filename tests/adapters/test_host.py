"""The delivery host with in-memory targets and the in-memory store: who gets what, latest wins,
failures retried and reported without touching other targets, deliveries kept across restarts,
edits reported through the channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel
import pytest

from gepad.adapters import AdapterSetup, DeliveryHost, EditChannel, TargetConfig
from gepad.adapters.edits import EditOutcome
from gepad.adapters.memory import MemoryTarget
from gepad.adapters.registry import LoadedTarget
from gepad.lineage import ServedState
from gepad.store.memory import MemoryStore

pytestmark = pytest.mark.anyio


def state(version: int, user: str = "alice", program: str = "bot", text: str = "",
          candidate: str = "") -> ServedState:
    return ServedState(user, program, candidate or f"c{version}",
                       {"system": text or f"prompt {version}"}, version, False, 100.0 + version)


def target(name: str, adapter: object, *, user: str | None = None, program: str = "bot",
           **numbers: float) -> LoadedTarget:
    setup = AdapterSetup(index=0, name=name, plugin="memory", user_id=user, program=program,
                         options={}, env={})
    return LoadedTarget(TargetConfig(setup, **numbers), adapter)  # type: ignore[arg-type]


@dataclass
class Sleeps:
    """The host's backoff waits, recorded and not waited."""

    asked: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await anyio.lowlevel.checkpoint()


@dataclass
class World:
    store: MemoryStore = field(default_factory=MemoryStore)
    served: dict[tuple[str, str], ServedState] = field(default_factory=dict)
    sleeps: Sleeps = field(default_factory=Sleeps)
    ticks: int = 0

    def clock(self) -> float:
        self.ticks += 1
        return float(self.ticks)

    def current(self, user: str, program: str) -> ServedState | None:
        return self.served.get((user, program))

    @asynccontextmanager
    async def host(self, *targets: LoadedTarget, resume: bool = True,
                   edits: object = None) -> AsyncIterator[DeliveryHost]:
        host = DeliveryHost(targets, log_to=self.store, current=self.current,
                            edits=edits, clock=self.clock,
                            sleep=self.sleeps)  # type: ignore[arg-type]
        if resume:
            host.resume(self.store.load_deliveries(), list(self.served.values()))
        async with anyio.create_task_group() as tg:
            await tg.start(host.run)
            yield host
            await host.close()

    def serve(self, host: DeliveryHost, s: ServedState) -> None:
        self.served[(s.user_id, s.program)] = s
        host.on_served(s)


async def test_each_target_gets_the_changes_of_the_users_and_program_it_is_for() -> None:
    world = World()
    everyone, alices, others = MemoryTarget(), MemoryTarget(), MemoryTarget()
    async with world.host(target("all", everyone), target("alice", alices, user="alice"),
                          target("other", others, program="other")) as host:
        world.serve(host, state(1))
        world.serve(host, state(1, user="bob"))
        await everyone.wait_for(2)
        await alices.wait_for(1)
    assert sorted((d.user_id, d.version) for d in everyone.delivered) == [("alice", 1), ("bob", 1)]
    (delivered,) = alices.delivered
    assert (delivered.target, delivered.user_id, delivered.version, delivered.candidate_id,
            delivered.components, delivered.idempotency_key) == (
        "alice", "alice", 1, "c1", {"system": "prompt 1"}, "c1:1")
    assert others.attempts == 0


async def test_a_busy_target_gets_only_the_newest_version_next() -> None:
    world = World()
    slow = MemoryTarget()
    slow.hold()
    async with world.host(target("slow", slow)) as host:
        world.serve(host, state(1))
        await slow.waiting.wait()
        for version in (2, 3, 4):
            world.serve(host, state(version))
        host.on_served(state(3))  # a late, older notice changes nothing
        assert host.status()[0].pending == 1
        slow.release()
        await slow.wait_for(2)
    assert [d.version for d in slow.delivered] == [1, 4]


async def test_a_failing_target_is_retried_with_backoff_and_reported_and_others_go_on() -> None:
    world = World()
    failing, fine = MemoryTarget(), MemoryTarget()
    failing.fail(ConnectionError("refused"), ConnectionError("refused again"))
    async with world.host(target("failing", failing, retry_initial_seconds=2.0),
                          target("fine", fine)) as host:
        failing.hold()
        world.serve(host, state(1))
        await fine.wait_for(1)
        await failing.waiting.wait()
        failing.release()
        await failing.wait_for(1)  # the first try failed
        report = {s.name: s for s in host.status()}
        assert (report["fine"].failures, report["fine"].last_error) == (0, "")
        assert [d.version for d in report["fine"].delivered] == [1]
        await failing.wait_for(3)  # the second failed too, the third delivered
        report = {s.name: s for s in host.status()}
    assert [d.version for d in fine.delivered] == [1]
    assert [d.version for d in failing.delivered] == [1]
    # Two failures: 2 s, then doubled.
    assert world.sleeps.asked == [2.0, 4.0]
    # Recovered: no failures in a row, the last error kept for whoever asks.
    assert report["failing"].failures == 0
    assert report["failing"].last_error == "ConnectionError: refused again"
    assert [d.version for d in report["failing"].delivered] == [1]


async def test_status_lists_a_targets_newest_deliveries_and_counts_them_all() -> None:
    world = World()
    hook = MemoryTarget()
    async with world.host(target("hook", hook)) as host:
        for n in range(60):
            world.serve(host, state(1, user=f"u{n:02}"))
            await hook.wait_for(n + 1)
        (report,) = host.status()
    assert report.delivered_users == 60
    assert [r.user_id for r in report.delivered] == [f"u{n:02}" for n in range(59, 9, -1)]


async def test_the_backoff_doubles_up_to_its_cap() -> None:
    setup = AdapterSetup(index=0, name="t", plugin="p", user_id=None, program="bot", options={},
                         env={})
    config = TargetConfig(setup, retry_initial_seconds=1.0, retry_max_seconds=5.0)
    assert [config.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert config.backoff(10_000) == 5.0


async def test_a_delivery_that_hangs_times_out_and_is_retried() -> None:
    world = World()
    stuck = MemoryTarget()
    stuck.hold()
    async with world.host(target("stuck", stuck, timeout_seconds=0.05)) as host:
        world.serve(host, state(1))
        await stuck.wait_for(2)
        stuck.release()
        await stuck.wait_for(3)
        report = host.status()[0]
    assert report.last_error == "timed out after 0.05s"
    assert [d.version for d in stuck.delivered] == [1]


async def test_a_restart_delivers_what_changed_while_down_and_nothing_twice() -> None:
    world = World()
    first = MemoryTarget()
    async with world.host(target("hook", first)) as host:
        world.serve(host, state(1))
        world.serve(host, state(3, user="bob"))
        await first.wait_for(2)
    assert [(r.target, r.user_id, r.program, r.candidate_id, r.version)
            for r in world.store.load_deliveries()] == [
        ("hook", "alice", "bot", "c1", 1), ("hook", "bob", "bot", "c3", 3)]
    # While the daemon was down, alice's prompt changed; bob's did not.
    world.served[("alice", "bot")] = state(2)
    again = MemoryTarget()
    async with world.host(target("hook", again)) as host:
        await again.wait_for(1)
        assert host.status()[0].pending == 0
    assert [(d.user_id, d.version) for d in again.delivered] == [("alice", 2)]


async def test_a_target_for_one_user_gets_the_seed_at_start_and_a_new_seed_too() -> None:
    world = World()
    world.served[("alice", "bot")] = state(0, candidate="seed1")
    repo = MemoryTarget()
    async with world.host(target("repo", repo, user="alice")) as host:
        await repo.wait_for(1)
        world.serve(host, state(0, candidate="seed2", text="a new seed"))
        await repo.wait_for(2)
        world.serve(host, state(0, candidate="seed2", text="a new seed"))
        world.serve(host, state(1))
        await repo.wait_for(3)
    assert [(d.version, d.candidate_id) for d in repo.delivered] == [
        (0, "seed1"), (0, "seed2"), (1, "c1")]


async def test_a_registered_or_changed_program_sends_its_seed_to_targets_of_its_users() -> None:
    world = World()
    repo, everyone = MemoryTarget(), MemoryTarget()
    async with world.host(target("repo", repo, user="alice"), target("all", everyone)) as host:
        host.program_changed("bot")  # not registered yet: nothing to send
        world.served[("alice", "bot")] = state(0, candidate="seed1")
        host.program_changed("other")
        host.program_changed("bot")
        await repo.wait_for(1)
        world.serve(host, state(1))
        await everyone.wait_for(1)
    assert [(d.version, d.candidate_id) for d in repo.delivered] == [(0, "seed1"), (1, "c1")]
    # A target for every user learns of users by their changes, not of seeds nobody was served.
    assert [d.version for d in everyone.delivered] == [1]


@dataclass
class Recorder:
    calls: list[tuple[str, ServedState, dict[str, str], str]] = field(default_factory=list)

    async def record(self, *, target: str, served: ServedState, components: Mapping[str, str],
                     where: str) -> EditOutcome:
        self.calls.append((target, served, dict(components), where))
        return EditOutcome(True, "adopted")


class Watching(MemoryTarget):
    """A target whose edit watch looks at its channel, is told to go on, reports one edit, then
    waits for the stop event."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[object, object]] = []
        self.looked, self.go, self.reported = anyio.Event(), anyio.Event(), anyio.Event()
        self.stopped = False

    async def watch_edits(self, edits: EditChannel) -> None:
        self.seen.append((edits.served(), edits.delivered()))
        self.looked.set()
        await self.go.wait()
        self.seen.append((edits.served(), edits.delivered()))
        await edits.edited({"system": "mine"}, where="AGENTS.md")
        self.reported.set()
        await edits.stop.wait()
        self.stopped = True


async def test_an_edit_watch_reports_through_its_channel_and_stops_on_close() -> None:
    world = World()
    world.served[("alice", "bot")] = state(1)
    recorder = Recorder()
    repo, everyone = Watching(), Watching()
    repo.hold()
    async with world.host(target("repo", repo, user="alice"), target("all", everyone),
                          edits=recorder) as host:
        await repo.waiting.wait()
        await repo.looked.wait()
        repo.release()
        await repo.wait_for(1)
        repo.go.set()
        await repo.reported.wait()
        report = {s.name: s for s in host.status()}
    assert repo.stopped
    # While the first delivery was under way the target had confirmed nothing; then version 1.
    (served, delivered), (served_after, delivered_after) = repo.seen
    assert served is not None and served.version == 1 and delivered is None
    assert delivered_after == served_after
    ((name, edited_state, components, where),) = recorder.calls
    assert (name, edited_state.version, components, where) == (
        "repo", 1, {"system": "mine"}, "AGENTS.md")
    assert report["repo"].watches_edits and report["repo"].last_edit_note == "AGENTS.md: adopted"
    # A target for every user cannot tell whose edit it saw: no watch.
    assert everyone.seen == [] and not report["all"].watches_edits
