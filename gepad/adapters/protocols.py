"""The adapter API, version `API_VERSION`: what a plugin is handed and what it must provide.

A plugin is an entry point in the group ``gepad.adapters`` naming a factory: a callable with an
``api_version`` attribute that takes an `AdapterSetup` (its ``[[adapters]]`` table) and returns a
`DeliveryTarget`. The object may also be an `EditWatch` (a person edited what was delivered) and a
`RolloutRunner` (run a candidate the way the host would); the host finds out with isinstance.
A plugin whose ``api_version`` is not `API_VERSION` is refused at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import anyio

from gepad.engine import Candidate, Example, RunnerOutput
from gepad.settings import ConfigError

__all__ = [
    "API_VERSION",
    "AdapterFactory",
    "AdapterSetup",
    "Delivery",
    "DeliveryTarget",
    "EditChannel",
    "EditWatch",
    "RolloutRunner",
]

API_VERSION = 1

_T = TypeVar("_T")
_REQUIRED: Any = object()


@dataclass(frozen=True, slots=True)
class Delivery:
    """A served prompt on its way to one target. Targets must be idempotent on
    `idempotency_key`: after a crash between delivering and recording it, the host delivers the
    same version again."""

    target: str
    user_id: str
    program: str
    candidate_id: str
    version: int
    components: Mapping[str, str]
    pinned: bool
    updated_at: float

    @property
    def idempotency_key(self) -> str:
        return f"{self.candidate_id}:{self.version}"

    def document(self) -> dict[str, Any]:
        """The JSON document the webhook posts and the command adapter writes to stdin."""
        return {
            "api_version": API_VERSION, "target": self.target, "user_id": self.user_id,
            "program": self.program, "candidate_id": self.candidate_id, "version": self.version,
            "idempotency_key": self.idempotency_key, "components": dict(self.components),
            "pinned": self.pinned, "updated_at": self.updated_at,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.document(), ensure_ascii=False, sort_keys=True).encode()


class AdapterSetup:
    """One ``[[adapters]]`` table as its plugin sees it: the target's name, whose prompt it
    delivers, and the plugin's own options, read through typed getters whose errors name the key
    (``adapters[2].url: ...``). An option the plugin never reads is refused as a likely typo."""

    def __init__(self, *, index: int, name: str, plugin: str, user_id: str | None, program: str,
                 options: Mapping[str, Any], env: Mapping[str, str]) -> None:
        self.index = index
        self.name = name
        self.plugin = plugin
        self.user_id = user_id  # None: every user of the program
        self.program = program
        self.env = env
        self._options = dict(options)
        self._read: set[str] = set()

    def key(self, option: str) -> str:
        return f"adapters[{self.index}].{option}"

    def error(self, option: str, why: str) -> ConfigError:
        return ConfigError(f"{self.key(option)}: {why}")

    def has(self, option: str) -> bool:
        self._read.add(option)
        return option in self._options

    def unread(self) -> list[str]:
        return sorted(set(self._options) - self._read)

    def _get(self, option: str, default: _T, kind: type | tuple[type, ...], what: str) -> Any:
        self._read.add(option)
        if option not in self._options:
            if default is _REQUIRED:
                raise self.error(option, f"is required ({what})")
            return default
        value = self._options[option]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.error(option, f"expected {what}, got {value!r}")
        if not isinstance(value, kind):
            raise self.error(option, f"expected {what}, got {value!r}")
        return value

    def text(self, option: str, default: str = _REQUIRED) -> str:
        value: str = self._get(option, default, str, "a string")
        if not value:
            raise self.error(option, "must not be empty")
        return value

    def number(self, option: str, default: float) -> float:
        value = self._get(option, default, (int, float), "a positive number")
        if value <= 0:
            raise self.error(option, f"expected a positive number, got {value!r}")
        return float(value)

    def flag(self, option: str, default: bool) -> bool:
        value: bool = self._get(option, default, bool, "true or false")
        return value

    def texts(self, option: str, default: tuple[str, ...] = _REQUIRED) -> tuple[str, ...]:
        value = self._get(option, default, (list, tuple), "an array of strings")
        if not all(isinstance(v, str) and v for v in value):
            raise self.error(option, f"expected an array of non-empty strings, got {value!r}")
        return tuple(value)

    def path(self, option: str, default: Path = _REQUIRED) -> Path:
        if not self.has(option) and default is not _REQUIRED:
            return default
        path = Path(self.text(option)).expanduser()
        if not path.is_absolute():
            raise self.error(option, f"expected an absolute path (~ is expanded), got {path}")
        return path

    def secret(self, option: str) -> bytes:
        """A secret named by ``<option>_env`` (an environment variable) or
        ``<option>_credential`` (a file in systemd's $CREDENTIALS_DIRECTORY); never the value
        itself, since config files are often world-readable and kept in version control."""
        if self.has(option):
            raise self.error(option, f"secrets are never read from the config file: set "
                             f"{option}_env (an environment variable's name) or "
                             f"{option}_credential (a systemd credential's name)")
        by_env, by_credential = self.has(f"{option}_env"), self.has(f"{option}_credential")
        if by_env == by_credential:
            raise self.error(f"{option}_env",
                             f"set exactly one of {option}_env or {option}_credential")
        if by_env:
            name = self.text(f"{option}_env")
            value = self.env.get(name)
            if not value:
                raise self.error(f"{option}_env", f"the environment variable {name} is not set")
            return value.encode()
        name = self.text(f"{option}_credential")
        directory = self.env.get("CREDENTIALS_DIRECTORY")
        if not directory:
            raise self.error(f"{option}_credential", "$CREDENTIALS_DIRECTORY is not set (pass "
                             "the secret with LoadCredential= in the systemd unit)")
        if "/" in name or name in (".", ".."):
            raise self.error(f"{option}_credential", f"expected a credential's name, got {name!r}")
        try:
            secret = (Path(directory) / name).read_bytes().strip()
        except OSError as exc:
            raise self.error(f"{option}_credential", f"cannot read it: {exc}") from exc
        if not secret:
            raise self.error(f"{option}_credential", f"the credential {name} is empty")
        return secret


class DeliveryTarget(Protocol):
    """The one thing every adapter does."""

    async def deliver(self, delivery: Delivery) -> None:
        """Make the host system use this prompt; raise if it did not. The host retries a failure
        with backoff, and delivers only the newest version once several piled up."""
        ...


class EditChannel(Protocol):
    """How an `EditWatch` reports a person's edit of what was delivered."""

    @property
    def stop(self) -> anyio.Event:
        """Set at shutdown: watch_edits returns soon after."""
        ...

    def served(self) -> Delivery | None:
        """What the target's user is served now (None: the program is gone)."""
        ...

    def delivered(self) -> Delivery | None:
        """The same, if this target confirmed delivering it; None while a delivery is pending
        (a file may still hold an older version then, which is no edit)."""
        ...

    async def edited(self, components: Mapping[str, str], *, where: str) -> bool:
        """Record a person's edit as a PROMPT_EDIT, served pinned as a human_edit node. False:
        not adopted (the same edit again, or refused: the channel notes why)."""
        ...

    def note(self, where: str, what: str) -> None:
        """What became of an edit the watch noticed and did not report (shown by `gepad
        adapters`)."""
        ...


@runtime_checkable
class EditWatch(Protocol):
    """An adapter that notices a person's edits of what it delivered. One whose table turns
    that off says so with a ``watches_edits = False`` attribute."""

    async def watch_edits(self, edits: EditChannel) -> None:
        """Report edits until ``edits.stop`` is set, then return."""
        ...


@runtime_checkable
class RolloutRunner(Protocol):
    """Runs a candidate on an example the way the host system would (an agent framework's
    program, a chatbot's pipeline) instead of gepad's default, a litellm chat call with the
    candidate as system prompt (`gepad.llm.runner.ChatTaskRunner`). Its shape is the engine's
    `TaskRunner`: ``version`` names the runner and what it runs, and the engine joins it into
    every evaluation's cache key, so an output of one runner is never reused for another."""

    @property
    def version(self) -> str: ...

    async def run(self, candidate: Candidate, example: Example) -> RunnerOutput: ...


class AdapterFactory(Protocol):
    """What an entry point of the group ``gepad.adapters`` names (a class, usually)."""

    api_version: int

    def __call__(self, setup: AdapterSetup) -> DeliveryTarget: ...
