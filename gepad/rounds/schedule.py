"""When rounds start by themselves: a nightly cron round for every user with new feedback, and a
debounced round once a user has sent ``evolve_after_events`` new events.

apscheduler (3.x) lives behind this one module; the rest of the daemon sees ``on_feedback`` and
``nightly``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from gepad.programs import ProgramRegistry
from gepad.store.contract import StoreContract

__all__ = ["EvolutionScheduler", "Evolver"]

log = logging.getLogger(__name__)


class Evolver(Protocol):
    async def evolve(
        self, user_id: str, program: str, *, actor: str, trigger: str = ...
    ) -> str: ...


class EvolutionScheduler:
    """Starts rounds by itself: nightly (cron) for each user with feedback newer than their last
    round, and once a user has sent ``evolve_after_events`` new events (debounced)."""

    def __init__(
        self,
        *,
        rounds: Evolver,
        programs: ProgramRegistry,
        store: StoreContract,
        nightly_cron: str,
        debounce_seconds: float,
        is_pinned: Callable[[str, str], bool] = lambda user, program: False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rounds = rounds
        self._is_pinned = is_pinned
        self._programs = programs
        self._store = store
        self._debounce = debounce_seconds
        self._clock = clock
        self._cron = CronTrigger.from_crontab(nightly_cron, timezone=UTC)
        self._scheduler: AsyncIOScheduler | None = None
        self._new_events: Counter[tuple[str, str]] = Counter()

    def start(self) -> None:
        """Needs the running event loop (apscheduler's asyncio scheduler attaches to it)."""
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._scheduler.add_job(self.nightly, self._cron, id="nightly", coalesce=True,
                                misfire_grace_time=3600)
        self._scheduler.start()

    def reschedule(self, *, nightly_cron: str, debounce_seconds: float) -> None:
        """New settings from a config reload; ValueError for a cron it cannot read (and then
        nothing changes). A debounced round already waiting keeps its time."""
        cron = CronTrigger.from_crontab(nightly_cron, timezone=UTC)
        self._cron, self._debounce = cron, debounce_seconds
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.reschedule_job("nightly", trigger=cron)

    def next_nightly(self) -> datetime | None:
        """When the nightly round fires next (None before `start`)."""
        job = None if self._scheduler is None else self._scheduler.get_job("nightly")
        when: datetime | None = None if job is None else job.next_run_time
        return when

    def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def on_feedback(self, user_id: str, program: str, new_events: int) -> None:
        """Count a user's new events; past the program's threshold, (re)arm a round that starts
        after ``debounce_seconds`` of quiet, so a burst of feedback yields one round."""
        spec = self._programs.get(program)
        threshold = spec.evolution.evolve_after_events if spec else 0
        if threshold <= 0 or self._scheduler is None:
            return
        key = (user_id, program)
        self._new_events[key] += new_events
        if self._new_events[key] < threshold:
            return
        when = datetime.fromtimestamp(self._clock() + self._debounce, tz=UTC)
        self._scheduler.add_job(
            self._fire, DateTrigger(when, timezone=UTC), args=(user_id, program),
            id=f"feedback:{user_id}/{program}", replace_existing=True,
            misfire_grace_time=int(timedelta(hours=1).total_seconds()),
        )

    async def _fire(self, user_id: str, program: str) -> None:
        self._new_events.pop((user_id, program), None)
        await self._start(user_id, program, "feedback")

    async def nightly(self) -> list[str]:
        """Start a round for every (user, program) with feedback newer than its last round."""
        pairs = await self._store.users_with_new_events()
        started = []
        for user_id, program in pairs:
            run_id = await self._start(user_id, program, "schedule")
            if run_id:
                started.append(run_id)
        return started

    async def _start(self, user_id: str, program: str, trigger: str) -> str | None:
        spec = self._programs.get(program)
        if spec is None or not spec.task_model.model:
            return None
        if self._is_pinned(user_id, program):
            # A pinned prompt cannot be replaced, so an automatic round would only spend budget.
            return None
        try:
            return await self._rounds.evolve(
                user_id, program, actor="scheduler", trigger=trigger
            )
        except Exception:  # one user's failure must not stop the others' rounds
            log.exception("could not start a %s round for %s/%s", trigger, user_id, program)
            return None
