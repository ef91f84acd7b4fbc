"""The ``[[adapters]]`` tables of the config file: one delivery target each.

The keys every target has (which plugin, its name, whose prompt, how to retry) are read here;
the rest are the plugin's options, read by the plugin through `AdapterSetup`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gepad.adapters.protocols import AdapterSetup
from gepad.errors import InvalidArgument
from gepad.feedback.validation import check_id, check_program_name
from gepad.settings import ConfigError

__all__ = ["TargetConfig", "parse_targets"]

_TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_OWN_KEYS = ("plugin", "name", "user", "program", "timeout_seconds", "retry_initial_seconds",
             "retry_max_seconds")


@dataclass(frozen=True)
class TargetConfig:
    setup: AdapterSetup
    # Seconds one delivery may take before it counts as failed.
    timeout_seconds: float = 30.0
    # A failing target waits this long before its next try, doubling up to the maximum.
    retry_initial_seconds: float = 1.0
    retry_max_seconds: float = 300.0

    def backoff(self, failures: int) -> float:
        """The wait after ``failures`` failures in a row (at least 1)."""
        return min(self.retry_max_seconds,
                   self.retry_initial_seconds * 2.0 ** min(failures - 1, 62))


def parse_targets(tables: Sequence[Any], env: Mapping[str, str]) -> list[TargetConfig]:
    if not isinstance(tables, list | tuple):
        raise ConfigError("adapters: expected an array of tables ([[adapters]])")
    targets: list[TargetConfig] = []
    names: dict[str, int] = {}
    for index, table in enumerate(tables):
        if not isinstance(table, Mapping):
            raise ConfigError(f"adapters[{index}]: expected a table ([[adapters]])")
        target = _parse(index, table, env)
        name = target.setup.name
        if name in names:
            raise ConfigError(f"adapters[{index}].name: {name!r} is taken by "
                              f"adapters[{names[name]}]; give each target its own name")
        names[name] = index
        targets.append(target)
    return targets


def _parse(index: int, table: Mapping[str, Any], env: Mapping[str, str]) -> TargetConfig:
    def key(option: str) -> str:
        return f"adapters[{index}].{option}"

    def text(option: str, default: str | None) -> str | None:
        value = table.get(option, default)
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigError(f"{key(option)}: expected a non-empty string, got {value!r}")
        return value

    plugin = text("plugin", None)
    if plugin is None:
        raise ConfigError(f"{key('plugin')}: is required (the adapter plugin's name, e.g. "
                          f"\"editor\", \"webhook\" or \"command\")")
    name = text("name", plugin)
    assert name is not None
    if not _TARGET_NAME.fullmatch(name):
        raise ConfigError(f"{key('name')}: expected 1..64 letters, digits, '.', '_' or '-', "
                          f"starting with a letter or digit; got {name!r}")
    program, user = text("program", None), text("user", None)
    if program is None:
        raise ConfigError(f"{key('program')}: is required (whose prompt this target receives)")
    try:
        check_program_name(key("program"), program)
        if user is not None:
            check_id(key("user"), user)
    except InvalidArgument as exc:
        raise ConfigError(f"{exc.field}: {exc.why}") from None
    setup = AdapterSetup(
        index=index, name=name, plugin=plugin, user_id=user, program=program,
        options={k: v for k, v in table.items() if k not in _OWN_KEYS}, env=env,
    )
    numbers = {option: _positive(table, option, key(option))
               for option in ("timeout_seconds", "retry_initial_seconds", "retry_max_seconds")
               if option in table}
    return TargetConfig(setup, **numbers)


def _positive(table: Mapping[str, Any], option: str, key: str) -> float:
    value = table[option]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{key}: expected a positive number, got {value!r}")
    return float(value)
