"""The command adapter: runs a configured program with the new prompt's JSON document
(`Delivery.document`) on stdin, without a shell, under a time limit. Exit status 0 is delivered;
anything else (or the time limit) is a failure the host retries. The program also gets
GEPAD_USER, GEPAD_PROGRAM, GEPAD_VERSION and GEPAD_IDEMPOTENCY_KEY in its environment.

    [[adapters]]
    plugin = "command"
    name = "reload-bot"
    program = "support-bot"
    command = ["/usr/local/bin/reload-prompt", "--from-stdin"]
    run_timeout_seconds = 20
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import anyio

from gepad.adapters.protocols import API_VERSION, AdapterSetup, Delivery
from gepad.settings import ConfigError

from .processes import AnyioProcesses, Processes

__all__ = ["CommandAdapter", "CommandError"]


class CommandError(Exception):
    """The command did not take the prompt."""


class CommandAdapter:
    api_version = API_VERSION

    def __init__(self, setup: AdapterSetup, *, processes: Processes | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        try:
            self._argv = setup.texts("command")
        except ConfigError as exc:
            raise ConfigError(f"{exc} (the program and its arguments, e.g. [\"/usr/bin/reload\", "
                              "\"--now\"]: no shell runs it)") from None
        if not self._argv:
            raise setup.error("command", "is empty")
        self._cwd = setup.path("cwd") if setup.has("cwd") else None
        self._timeout = setup.number("run_timeout_seconds", 20.0)
        self._processes = processes or AnyioProcesses()
        self._env = os.environ if env is None else env

    async def deliver(self, delivery: Delivery) -> None:
        env = dict(self._env) | {
            "GEPAD_USER": delivery.user_id, "GEPAD_PROGRAM": delivery.program,
            "GEPAD_VERSION": str(delivery.version),
            "GEPAD_IDEMPOTENCY_KEY": delivery.idempotency_key,
        }
        try:
            # Cancelled by the time limit, the process is killed.
            with anyio.fail_after(self._timeout):
                done = await self._processes.run(self._argv, delivery.to_json(), env=env,
                                                 cwd=self._cwd)
        except TimeoutError:
            raise CommandError(f"{self._argv[0]} ran longer than {self._timeout:g}s and was "
                               "killed") from None
        except OSError as exc:
            raise CommandError(f"cannot run {self._argv[0]}: {exc}") from None
        if done.returncode != 0:
            said = done.stderr[-300:].decode("utf-8", "replace").strip()
            raise CommandError(f"{self._argv[0]} exited with status {done.returncode}"
                               + (f": {said}" if said else ""))
