"""Finding adapter plugins: entry points of the group ``gepad.adapters``, loaded only when a
``[[adapters]]`` table names them.

The config is an allow-list: an installed plugin nobody named is never imported, so installing a
package cannot by itself make the daemon run its code. Entry points are read as metadata (names
and values) until one is chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata

from gepad.adapters.config import TargetConfig
from gepad.adapters.protocols import API_VERSION, DeliveryTarget, EditWatch
from gepad.settings import ConfigError

__all__ = ["GROUP", "LoadedTarget", "load_targets"]

GROUP = "gepad.adapters"


@dataclass(frozen=True)
class LoadedTarget:
    config: TargetConfig
    adapter: DeliveryTarget

    @property
    def name(self) -> str:
        return self.config.setup.name

    @property
    def edit_watch(self) -> EditWatch | None:
        # Only a target for one user can tell whose edit it saw.
        if self.config.setup.user_id is None or not isinstance(self.adapter, EditWatch):
            return None
        return self.adapter if getattr(self.adapter, "watches_edits", True) else None


def installed() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=GROUP)


def load_targets(
    configs: Sequence[TargetConfig],
    entry_points: Callable[[], Iterable[metadata.EntryPoint]] = installed,
) -> list[LoadedTarget]:
    """Import the plugin of each configured target and build the target; ConfigError (naming
    the key) for a plugin that is not installed, not importable, of another API version, or
    that refuses its options."""
    if not configs:
        return []
    by_name: dict[str, list[metadata.EntryPoint]] = {}
    for ep in entry_points():
        found = by_name.setdefault(ep.name, [])
        if all(other.value != ep.value for other in found):
            found.append(ep)
    return [_load(config, by_name) for config in configs]


def _load(config: TargetConfig, by_name: dict[str, list[metadata.EntryPoint]]) -> LoadedTarget:
    setup = config.setup
    where = setup.key("plugin")
    candidates = by_name.get(setup.plugin, [])
    if not candidates:
        known = ", ".join(sorted(by_name)) or "none"
        raise ConfigError(f"{where}: no adapter plugin {setup.plugin!r} is installed "
                          f"(entry-point group {GROUP}; installed: {known})")
    if len(candidates) > 1:
        values = " and ".join(f"{ep.value} ({_dist(ep)})" for ep in candidates)
        raise ConfigError(f"{where}: {setup.plugin!r} names more than one plugin: {values}")
    (ep,) = candidates
    try:
        factory = ep.load()
    except Exception as exc:
        raise ConfigError(f"{where}: cannot import plugin {setup.plugin!r} ({ep.value}): "
                          f"{type(exc).__name__}: {exc}") from exc
    version = getattr(factory, "api_version", None)
    if version != API_VERSION:
        raise ConfigError(f"{where}: plugin {setup.plugin!r} ({ep.value}) speaks adapter API "
                          f"version {version!r}; this gepad speaks {API_VERSION}")
    try:
        adapter = factory(setup)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{where}: plugin {setup.plugin!r} refused its table: "
                          f"{type(exc).__name__}: {exc}") from exc
    if not callable(getattr(adapter, "deliver", None)):
        raise ConfigError(f"{where}: plugin {setup.plugin!r} ({ep.value}) made no delivery "
                          f"target (an object with an async deliver method)")
    unread = setup.unread()
    if unread:
        raise ConfigError(f"{setup.key(unread[0])}: the {setup.plugin!r} plugin has no such "
                          f"option")
    return LoadedTarget(config, adapter)


def _dist(ep: metadata.EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
