"""The delivery host: gets every served-prompt change to every configured target.

It subscribes to the store's `ServedChanges` (the daemon registers it), so a promotion, a
rollback, an unpin and an edit all reach it the same way. Each target has its own worker and,
per user and program, holds only the newest version not yet delivered: a slow or failing target
skips straight to the newest prompt and its backlog never grows past one entry per user. A
failure is logged, shown by `status()` and retried with backoff; it never reaches the daemon or
another target. What each target confirmed is recorded in the store, so a restart delivers what
changed while gepad was down and nothing else. The set of targets can change while it runs
(`reconfigure`, on a config reload): a new or changed target starts as it would at a restart.
"""

from __future__ import annotations

import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from gepad.adapters.edits import EditOutcome
from gepad.adapters.protocols import Delivery, EditWatch, RolloutRunner
from gepad.adapters.registry import LoadedTarget
from gepad.deliveries import DeliveryRecord
from gepad.lineage import ServedState

__all__ = ["DeliveryHost", "DeliveryLog", "EditRecorder", "TargetStatus"]

log = logging.getLogger(__name__)

_Key = tuple[str, str]  # (user_id, program)
# How long edit watches get to return after the stop event before they are cancelled.
STOP_GRACE_SECONDS = 5.0
# Deliveries listed per target by status(): a target for every user may have thousands.
LISTED_DELIVERIES = 50


class DeliveryLog(Protocol):
    """Where confirmed deliveries are recorded (the store)."""

    async def record_delivery(self, record: DeliveryRecord) -> None: ...


class EditRecorder(Protocol):
    """Where a person's edit goes (`gepad.adapters.edits.EditIntake`)."""

    async def record(self, *, target: str, served: ServedState, components: Mapping[str, str],
                     where: str) -> EditOutcome: ...


@dataclass(frozen=True)
class TargetStatus:
    name: str
    plugin: str
    user_id: str | None  # None: every user of the program
    program: str
    watches_edits: bool
    # The newest confirmed delivery per user and program: the LISTED_DELIVERIES most recent,
    # newest first; delivered_users counts them all.
    delivered: list[DeliveryRecord]
    delivered_users: int
    pending: int  # users whose newest version waits for delivery
    failures: int  # failed tries in a row; 0 once a delivery succeeds
    last_error: str
    last_error_at: float | None
    last_edit_note: str  # the last edit the target noticed and what became of it
    last_edit_at: float | None


@dataclass(eq=False)
class _Target:
    loaded: LoadedTarget
    pending: dict[_Key, ServedState] = field(default_factory=dict)
    # The user and program being delivered right now: still pending until it succeeds, though
    # out of `pending` (a newer version may arrive there meanwhile).
    in_flight: _Key | None = None
    delivered: dict[_Key, DeliveryRecord] = field(default_factory=dict)
    wake: anyio.Event = field(default_factory=anyio.Event)
    failures: int = 0
    last_error: str = ""
    last_error_at: float | None = None
    last_edit_note: str = ""
    last_edit_at: float | None = None
    # Set when the daemon stops or a reload removes the target: its edit watch returns.
    stop: anyio.Event = field(default_factory=anyio.Event)
    # Cancelled when a reload removes the target; may be cancelled before its task enters it.
    delivery_scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    watch_scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)

    @property
    def name(self) -> str:
        return self.loaded.name

    def wants(self, state: ServedState) -> bool:
        setup = self.loaded.config.setup
        return state.program == setup.program and setup.user_id in (None, state.user_id)

    def needs(self, state: ServedState) -> bool:
        done = self.delivered.get((state.user_id, state.program))
        if done is None or state.version > done.version:
            return True
        # Version 0 is a program's seed, which changes when the program is registered again.
        return state.version == done.version and state.candidate_id != done.candidate_id

    def delivery(self, state: ServedState) -> Delivery:
        return Delivery(self.name, state.user_id, state.program, state.candidate_id,
                        state.version, dict(state.components), state.pinned, state.updated_at)


class DeliveryHost:
    def __init__(
        self,
        targets: Sequence[LoadedTarget],
        *,
        log_to: DeliveryLog,
        current: Callable[[str, str], ServedState | None],
        edits: EditRecorder | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        """``current(user, program)``: what the user is served now (the program's seed at
        version 0 for a user never served anything; None for an unknown program)."""
        self._targets = [_Target(t) for t in targets]
        self._log = log_to
        self._current = current
        self._edits = edits
        self._clock = clock
        self._sleep = sleep
        self._stop = anyio.Event()
        self._done = anyio.Event()
        # The task groups that run targets, while `run` holds them open.
        self._deliveries: anyio.abc.TaskGroup | None = None
        self._watches: anyio.abc.TaskGroup | None = None

    def __len__(self) -> int:
        return len(self._targets)

    # ------------------------------------------------------------------ what to deliver

    def resume(self, records: Iterable[DeliveryRecord], served: Iterable[ServedState]) -> None:
        """At start-up: what each target confirmed before, and what users are served now."""
        self._prime(self._targets, records, served)

    def reconfigure(
        self, targets: Sequence[LoadedTarget], *, unchanged: Collection[str],
        records: Iterable[DeliveryRecord], served: Iterable[ServedState],
    ) -> None:
        """Serve ``targets`` from now on. A running target named in ``unchanged`` goes on as it
        is (its queue, its failures); every other is stopped, and each new or changed one starts
        as at a restart, from ``records`` (what the store says it confirmed) and ``served``."""
        running = {t.name: t for t in self._targets}
        kept = {name: running[name] for name in unchanged if name in running}
        fresh = [_Target(t) for t in targets if t.name not in kept]
        self._targets = [kept.get(t.name) or next(f for f in fresh if f.name == t.name)
                         for t in targets]
        for target in running.values():
            if target.name not in kept:
                self._retire(target)
        self._prime(fresh, records, served)
        for target in fresh:
            self._start(target)

    def _prime(self, targets: Sequence[_Target], records: Iterable[DeliveryRecord],
               served: Iterable[ServedState]) -> None:
        by_name = {t.name: t for t in targets}
        for record in records:
            target = by_name.get(record.target)
            if target is not None:
                target.delivered[(record.user_id, record.program)] = record
        for state in served:
            for target in targets:
                self._offer(target, state)
        for target in targets:
            setup = target.loaded.config.setup
            if setup.user_id is not None:
                # A target for one user gets the program's seed while nothing else is served.
                now = self._current(setup.user_id, setup.program)
                if now is not None:
                    self._offer(target, now)

    def on_served(self, state: ServedState) -> None:
        """A committed change of what a user is served (subscribed to `ServedChanges`)."""
        for target in self._targets:
            self._offer(target, state)

    def program_changed(self, program: str) -> None:
        """A program was registered or changed: a user still on its seed has a new prompt."""
        for target in self._targets:
            setup = target.loaded.config.setup
            if setup.user_id is not None and setup.program == program:
                now = self._current(setup.user_id, program)
                if now is not None:
                    self._offer(target, now)

    def _offer(self, target: _Target, state: ServedState) -> None:
        if not target.wants(state) or not target.needs(state):
            return
        key = (state.user_id, state.program)
        queued = target.pending.get(key)
        if queued is not None and queued.version > state.version:
            return
        target.pending[key] = state
        target.wake.set()

    # ------------------------------------------------------------------ running

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
                  ) -> None:
        """Deliver and watch for edits until `close()`."""
        try:
            async with anyio.create_task_group() as deliveries:
                self._deliveries = deliveries
                async with anyio.create_task_group() as watches:
                    self._watches = watches
                    for target in self._targets:
                        self._start(target)
                    task_status.started()
                    await self._stop.wait()
                    self._watches = None
                    watches.cancel_scope.deadline = anyio.current_time() + STOP_GRACE_SECONDS
                # A delivery cut short here was not recorded: the next start delivers it again.
                self._deliveries = None
                deliveries.cancel_scope.cancel()
        finally:
            self._deliveries = self._watches = None
            self._done.set()

    async def close(self) -> None:
        """Stop the edit watches (each returns on the stop event) and the deliveries."""
        self._stop.set()
        for target in self._targets:
            target.stop.set()
        with anyio.move_on_after(STOP_GRACE_SECONDS + 1):
            await self._done.wait()

    def _start(self, target: _Target) -> None:
        # Before `run` (or after `close`) there is nothing to start in: `run` starts them all.
        if self._deliveries is not None:
            self._deliveries.start_soon(self._delivery_task, target)
        watch = target.loaded.edit_watch
        if watch is not None and self._watches is not None:
            self._watches.start_soon(self._watch_task, target, watch)

    def _retire(self, target: _Target) -> None:
        log.info("adapter %s: removed by a config reload", target.name)
        target.stop.set()
        # Like at shutdown: a delivery cut short was not recorded, the watch gets a grace.
        target.delivery_scope.cancel()
        target.watch_scope.deadline = anyio.current_time() + STOP_GRACE_SECONDS

    async def _delivery_task(self, target: _Target) -> None:
        with target.delivery_scope:
            await self._deliver_loop(target)

    async def _watch_task(self, target: _Target, watch: EditWatch) -> None:
        with target.watch_scope:
            await self._watch_loop(target, watch)

    async def _deliver_loop(self, target: _Target) -> None:
        while True:
            if not target.pending:
                target.wake = anyio.Event()
                await target.wake.wait()
                continue
            key = next(iter(target.pending))
            state = target.pending.pop(key)
            if not target.needs(state):
                continue
            target.in_flight = key
            try:
                with anyio.fail_after(target.loaded.config.timeout_seconds):
                    await target.loaded.adapter.deliver(target.delivery(state))
            except Exception as exc:
                await self._failed(target, state, exc)
                continue
            finally:
                target.in_flight = None
            target.failures = 0
            record = DeliveryRecord(target.name, state.user_id, state.program,
                                    state.candidate_id, state.version, self._clock())
            target.delivered[key] = record
            try:
                await self._log.record_delivery(record)
            except Exception:
                log.exception("adapter %s: delivered %s/%s version %d but could not record it; "
                              "the next start delivers it again", target.name, state.user_id,
                              state.program, state.version)

    async def _failed(self, target: _Target, state: ServedState, exc: Exception) -> None:
        target.failures += 1
        why = (f"timed out after {target.loaded.config.timeout_seconds:g}s"
               if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}")
        target.last_error, target.last_error_at = why, self._clock()
        wait = target.loaded.config.backoff(target.failures)
        log.warning("adapter %s: delivering %s/%s version %d failed (%s); try %d, next in %gs",
                    target.name, state.user_id, state.program, state.version, why,
                    target.failures, wait)
        # Back in line unless a newer version arrived meanwhile, which wins.
        target.pending.setdefault((state.user_id, state.program), state)
        await self._sleep(wait)

    async def _watch_loop(self, target: _Target, watch: EditWatch) -> None:
        channel = _Channel(self, target)
        failures = 0
        while not target.stop.is_set():
            try:
                await watch.watch_edits(channel)
                return
            except Exception as exc:
                failures += 1
                channel.note("the edit watch", f"failed ({type(exc).__name__}: {exc}); "
                             "restarting it")
                log.warning("adapter %s: the edit watch failed; restarting it", target.name,
                            exc_info=True)
                with anyio.move_on_after(target.loaded.config.backoff(failures)):
                    await target.stop.wait()

    # ------------------------------------------------------------------ rollouts

    def runner_for(self, user_id: str, program: str) -> RolloutRunner | None:
        """The rollout runner of a target for this user's prompt (one for this user rather than
        one for every user of the program); None: rounds use the default chat runner. Read at
        each round's start, so a reload that adds or removes a runner counts from the next."""
        found: RolloutRunner | None = None
        for t in self._targets:
            setup, adapter = t.loaded.config.setup, t.loaded.adapter
            if setup.program != program or not isinstance(adapter, RolloutRunner):
                continue
            if setup.user_id == user_id:
                return adapter
            if setup.user_id is None and found is None:
                found = adapter
        return found

    # ------------------------------------------------------------------ reporting

    def status(self) -> list[TargetStatus]:
        return [
            TargetStatus(
                name=t.name, plugin=t.loaded.config.setup.plugin,
                user_id=t.loaded.config.setup.user_id, program=t.loaded.config.setup.program,
                watches_edits=t.loaded.edit_watch is not None,
                delivered=heapq.nlargest(LISTED_DELIVERIES, t.delivered.values(),
                                         key=lambda r: (r.delivered_at, r.user_id, r.program)),
                delivered_users=len(t.delivered),
                pending=len(t.pending.keys() | ({t.in_flight} if t.in_flight else set())),
                failures=t.failures, last_error=t.last_error, last_error_at=t.last_error_at,
                last_edit_note=t.last_edit_note, last_edit_at=t.last_edit_at,
            )
            for t in self._targets
        ]


class _Channel:
    """One target's `EditChannel`."""

    def __init__(self, host: DeliveryHost, target: _Target) -> None:
        self._host = host
        self._target = target
        setup = target.loaded.config.setup
        assert setup.user_id is not None
        self._key: _Key = (setup.user_id, setup.program)

    @property
    def stop(self) -> anyio.Event:
        return self._target.stop

    def _state(self) -> ServedState | None:
        return self._host._current(*self._key)

    def served(self) -> Delivery | None:
        state = self._state()
        return None if state is None else self._target.delivery(state)

    def delivered(self) -> Delivery | None:
        state = self._state()
        done = self._target.delivered.get(self._key)
        if state is None or done is None:
            return None
        if (done.version, done.candidate_id) != (state.version, state.candidate_id):
            return None
        return self._target.delivery(state)

    async def edited(self, components: Mapping[str, str], *, where: str) -> bool:
        state = self._state()
        if state is None:
            self.note(where, f"not adopted: program {self._key[1]!r} does not exist")
            return False
        if self._host._edits is None:
            self.note(where, "not adopted: this daemon records no edits")
            return False
        outcome = await self._host._edits.record(target=self._target.name, served=state,
                                                 components=components, where=where)
        self.note(where, outcome.note)
        if outcome.adopted:
            log.info("adapter %s: a person's edit in %s is served to %s/%s, pinned",
                     self._target.name, where, *self._key)
        return outcome.adopted

    def note(self, where: str, what: str) -> None:
        self._target.last_edit_note = f"{where}: {what}"
        self._target.last_edit_at = self._host._clock()
