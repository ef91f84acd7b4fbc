"""The config file, watched: a saved change reaches the running daemon without a restart.

Adapters' targets, the nightly cron, the debounce and the round limit change live. The whole
file is read and checked first — every key, every adapter table with its plugin loaded — and
only a config that passes replaces the running one; one that does not is logged with the key
at fault and changes nothing. Settings the daemon cannot change while it runs (where it
listens, its tokens, its files) are logged as waiting for the next restart.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import anyio
import anyio.to_thread
from watchfiles import awatch

from gepad.adapters import DeliveryHost, LoadedTarget, TargetConfig, load_targets, parse_targets
from gepad.rounds import EvolutionScheduler, RoundManager
from gepad.serving.prompts import ServedPrompts
from gepad.settings import ConfigError, Settings, load_settings
from gepad.store.repository import Store

__all__ = ["RESTART_ONLY", "ConfigWatch"]

log = logging.getLogger("gepad.config")

# Settings read once at start (sockets bound, files opened, the server built): a change waits.
RESTART_ONLY = (
    "state_dir", "runtime_dir", "socket_path", "tcp_address", "tokens", "grace_seconds",
    "writer_batch_max", "max_message_bytes", "ingest_max_bytes", "default_caps",
    "tls_cert", "tls_key", "tcp_allow_plaintext",
    # The rounds' calibration policy is handed to the round manager when the daemon is built.
    "evaluators",
)


class ConfigWatch:
    def __init__(
        self, settings: Settings, *, delivery: DeliveryHost, scheduler: EvolutionScheduler,
        rounds: RoundManager, store: Store, prompts: ServedPrompts,
        env: Mapping[str, str] | None = None,
        load: Callable[[Sequence[TargetConfig]], list[LoadedTarget]] = load_targets,
    ) -> None:
        if settings.config_path is None:
            raise ValueError("a daemon started without a config file has none to watch")
        self.path = settings.config_path
        self._started = settings
        self._current = settings
        self._delivery = delivery
        self._scheduler = scheduler
        self._rounds = rounds
        self._store = store
        self._prompts = prompts
        self._env = os.environ if env is None else env
        self._load = load

    async def run(self, stop: anyio.Event, *,
                  task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Reload on every change of the file until ``stop`` is set."""
        # The directory, not the file: editors and config tools save by renaming a new file
        # over the old one, which ends a watch on the old file's inode.
        changes = awatch(self.path.parent, stop_event=stop, recursive=False, watch_filter=None,
                         debounce=300, step=50)
        task_status.started()
        async for batch in changes:
            if any(Path(changed).name == self.path.name for _, changed in batch):
                await self.reload()

    async def reload(self) -> bool:
        """Read, check and apply the file once; False (and a log line) if it was refused."""
        try:
            new = await anyio.to_thread.run_sync(load_settings, self.path, self._env)
            configs = parse_targets(new.adapters, self._env)
            targets = self._load(configs)
            # Checks the cron before changing anything, so it is the last thing that can fail.
            try:
                self._scheduler.reschedule(nightly_cron=new.nightly_cron,
                                           debounce_seconds=new.evolve_debounce_seconds)
            except ValueError as exc:
                raise ConfigError(f"nightly_cron: {exc}") from exc
        except ConfigError as exc:
            log.error("config %s: %s; the running config stays in force", self.path, exc)
            return False
        await self._apply_targets(new, configs, targets)
        self._rounds.set_max_concurrent_rounds(new.max_concurrent_rounds)
        waiting = [name for name in RESTART_ONLY
                   if getattr(new, name) != getattr(self._started, name)]
        if waiting:
            log.warning("config %s: %s changed; this takes effect at the next restart",
                        self.path, ", ".join(waiting))
        self._current = new
        log.info("config %s reloaded (%d adapter targets)", self.path, len(self._delivery))
        return True

    async def _apply_targets(self, new: Settings, configs: Sequence[TargetConfig],
                             targets: Sequence[LoadedTarget]) -> None:
        old = _tables_by_name(self._current, parse_targets(self._current.adapters, self._env))
        now = _tables_by_name(new, configs)
        unchanged = {name for name, table in now.items() if old.get(name) == table}
        if unchanged == set(old) == set(now):
            return
        records = await anyio.to_thread.run_sync(self._store.load_deliveries)
        # Served states from memory, with no await before the host takes them: a change
        # published meanwhile would otherwise miss the new targets.
        self._delivery.reconfigure(targets, unchanged=unchanged, records=records,
                                   served=self._prompts.states())
        log.info("config %s: adapter targets now %s", self.path,
                 ", ".join(t.name for t in targets) or "none")


def _tables_by_name(settings: Settings, configs: Sequence[TargetConfig]) -> dict[str, object]:
    return {c.setup.name: settings.adapters[c.setup.index] for c in configs}
