"""The composition root: builds every part, wires them together, runs them, and stops them in
order. No part reaches for another's globals; everything a part needs is handed to it here."""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from collections.abc import Callable

import anyio

from gepad.adapters import DeliveryHost, EditIntake, load_targets, parse_targets
from gepad.config_watch import ConfigWatch
from gepad.engine import TaskRunner
from gepad.private_paths import private_dir
from gepad.programs import ProgramRegistry
from gepad.rounds import EvolutionScheduler, LiteLLMSeams, RoundManager
from gepad.rounds.calibration_step import calibration_policy
from gepad.rpc.auth import Authenticator
from gepad.rpc.server import GrpcServer
from gepad.rpc.servicer import GepadServicer
from gepad.sdnotify import Notifier
from gepad.serving.prompts import ServedPrompts
from gepad.settings import Settings
from gepad.store.database import connect_writer
from gepad.store.repository import Store
from gepad.store.writer import Writer

__all__ = ["run_daemon"]

log = logging.getLogger("gepad")


async def run_daemon(
    settings: Settings,
    *,
    ready: Callable[[], None] | None = None,
    stop: anyio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """Serve until SIGTERM/SIGINT (when ``handle_signals`` and on the main thread) or ``stop``.

    Shutdown order: health NOT_SERVING, watch streams end, the config watch stops, the server
    stops with a grace period, the adapters' edit watches stop, the writer commits what it holds,
    then this returns.
    """
    stop = stop or anyio.Event()
    # Plugins are imported and their tables checked before anything starts: a bad table stops
    # the daemon here with a ConfigError naming its key.
    targets = load_targets(parse_targets(settings.adapters, os.environ))
    notifier = Notifier()
    # Refused before anything is opened or created in them.
    private_dir(settings.socket_path.parent, "runtime_dir")
    private_dir(settings.state_dir, "state_dir")
    conn = connect_writer(settings.database_path)
    writer = Writer(conn, batch_max=settings.writer_batch_max)
    store = Store(settings.database_path, writer)
    programs = ProgramRegistry(store.load_programs())
    prompts = ServedPrompts(programs.seed)
    served = store.load_served()
    prompts.load(served)
    store.served_changes.subscribe(prompts.publish)
    # Everything loaded so far lives as long as the daemon: move it out of the collector's reach,
    # so a later full collection does not walk 100k served prompts while answering calls.
    gc.collect()
    gc.freeze()
    # An adapter that runs rollouts the way its host does (the DSPy program) replaces the chat
    # call for the prompts it delivers; the host is built below, and asked at each round's start.
    def runners(user_id: str, program: str) -> TaskRunner | None:
        return delivery.runner_for(user_id, program)

    rounds = RoundManager(
        store=store, programs=programs, prompts=prompts, seams=LiteLLMSeams(runners=runners),
        max_concurrent_rounds=settings.max_concurrent_rounds, default_caps=settings.default_caps,
        calibration=calibration_policy(settings.evaluators),
    )
    scheduler = EvolutionScheduler(
        rounds=rounds, programs=programs, store=store, nightly_cron=settings.nightly_cron,
        debounce_seconds=settings.evolve_debounce_seconds, is_pinned=prompts.is_pinned,
    )
    # Every served change reaches the adapters through the same observer list as serving.
    delivery = DeliveryHost(
        targets, log_to=store, current=prompts.get,
        edits=EditIntake(store, programs.seed, on_feedback=scheduler.on_feedback),
    )
    delivery.resume(store.load_deliveries(), served)
    del served  # the states live on in `prompts`; the list need not
    store.served_changes.subscribe(delivery.on_served)
    servicer = GepadServicer(
        store=store, programs=programs, prompts=prompts, evolution=rounds,
        on_feedback=scheduler.on_feedback, on_program=delivery.program_changed,
        adapters=delivery.status, ingest_max_bytes=settings.ingest_max_bytes,
    )
    server = GrpcServer(servicer, Authenticator(settings.tokens), settings)
    server.bind()
    # Only a daemon started from a file has one to watch (tests build Settings directly).
    config_watch = None if settings.config_path is None else ConfigWatch(
        settings, delivery=delivery, scheduler=scheduler, rounds=rounds, store=store,
        prompts=prompts,
    )
    # Its own event: watchfiles' thread ends on it within a step, not on cancellation.
    config_stop = anyio.Event()
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(writer.run)
            async with anyio.create_task_group() as helpers:
                # Rounds are cancelled with the helpers at shutdown; each committed step is kept
                # and the round resumes from it at the next start.
                await helpers.start(rounds.run)
                await helpers.start(delivery.run)
                scheduler.start()
                if config_watch is not None:
                    await helpers.start(config_watch.run, config_stop)
                await server.start()
                where = f"unix:{settings.socket_path}" + (
                    f" and tcp port {server.tcp_port}" if server.tcp_port else ""
                )
                log.info("gepad serving on %s (database %s, %d adapter targets)", where,
                         settings.database_path, len(delivery))
                notifier.ready(f"serving on {where}")
                if ready is not None:
                    ready()
                if handle_signals and threading.current_thread() is threading.main_thread():
                    # A file-size limit (ulimit -f, systemd's LimitFSIZE=) is a full store to
                    # gepad, answered RESOURCE_EXHAUSTED/UNAVAILABLE, not a signal that kills it.
                    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                    helpers.start_soon(_stop_on_signal, stop)
                if notifier.watchdog_interval:
                    helpers.start_soon(_watchdog, notifier, notifier.watchdog_interval)
                await stop.wait()

                log.info("gepad shutting down")
                notifier.stopping()
                config_stop.set()
                scheduler.stop()
                prompts.close()
                await server.stop(settings.grace_seconds)
                await delivery.close()
                helpers.cancel_scope.cancel()
            # The writer's task returns once everything queued before this is committed.
            writer.close()
    finally:
        store.close()
        conn.close()
        log.info("gepad stopped")


async def _stop_on_signal(stop: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            stop.set()
            return


async def _watchdog(notifier: Notifier, interval: float) -> None:
    # Pinged from the event loop itself, so a stalled loop stops the pings and systemd notices.
    while True:
        notifier.watchdog()
        await anyio.sleep(interval)
