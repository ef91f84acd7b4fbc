"""One run of the CLI: the parsed options, where the daemon is, and the client to reach it.

The target is resolved in this order: ``--target``, ``--socket``, then the socket of the settings
(``--config``, ``$GEPAD_CONFIG``, ``$GEPAD_SOCKET``, the default paths), and the invocation
remembers which one it used, so "cannot reach" can say where it looked and why there.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gepad.cli.output import Output
from gepad.client import Client
from gepad.client.connection import normalize_target
from gepad.settings import Settings, load_settings

__all__ = ["Invocation", "ResolvedTarget"]


@dataclass(frozen=True)
class ResolvedTarget:
    target: str
    # Where the target came from, in words ("--socket", "the settings in /etc/gepad.toml").
    source: str
    # The command that would start a daemon listening there, or None when we cannot know.
    start_hint: str | None


class Invocation:
    def __init__(self, args: argparse.Namespace, env: Mapping[str, str]) -> None:
        self.args = args
        self.env = env
        self.output = Output(json_mode=bool(args.json))
        self._settings: Settings | None = None
        self._client: Client | None = None
        self._target: ResolvedTarget | None = None

    @property
    def config_path(self) -> Path | None:
        config: Path | None = self.args.config
        return config

    def settings(self) -> Settings:
        """Daemon settings from the config file and environment, with ``--socket`` applied."""
        if self._settings is None:
            settings = load_settings(self.config_path, self.env)
            if self.args.socket:
                settings = dataclasses.replace(settings, socket_path=Path(self.args.socket))
            self._settings = settings
        return self._settings

    def global_flags(self) -> str:
        """The options that point at the same daemon, to repeat in a suggested command."""
        flags = ""
        if self.config_path is not None:
            flags += f" --config {self.config_path}"
        if self.args.socket:
            flags += f" --socket {self.args.socket}"
        return flags

    def target(self) -> ResolvedTarget:
        if self._target is None:
            self._target = self._resolve_target()
        return self._target

    def _resolve_target(self) -> ResolvedTarget:
        if self.args.target:
            target = normalize_target(self.args.target)
            hint = (
                f"gepad serve --socket {target.removeprefix('unix://')}"
                if target.startswith("unix://")
                else None
            )
            return ResolvedTarget(target, "--target", hint)
        start = f"gepad{self.global_flags()} serve"
        if self.args.socket:
            return ResolvedTarget(normalize_target(str(self.args.socket)), "--socket", start)
        settings = self.settings()
        if "GEPAD_SOCKET" in self.env:
            source = "$GEPAD_SOCKET"
        elif settings.config_path is not None:
            source = f"the settings in {settings.config_path}"
        else:
            source = "the default settings"
        # Name the variable that moved the socket, or "default" hides why it is there.
        for var in ("GEPAD_RUNTIME_DIR", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"):
            if var in self.env and source != "$GEPAD_SOCKET":
                source += f" (with ${var}={self.env[var]})"
                break
        return ResolvedTarget(f"unix://{settings.socket_path}", source, start)

    @property
    def token(self) -> str | None:
        token: str | None = self.args.token or self.env.get("GEPAD_TOKEN") or None
        return token

    def client(self) -> Client:
        if self._client is None:
            ca = getattr(self.args, "tls_ca", None) or self.env.get("GEPAD_TLS_CA") or None
            self._client = Client(
                self.target().target, token=self.token, timeout=self.args.timeout, tls_ca=ca
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
