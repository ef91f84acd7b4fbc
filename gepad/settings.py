"""Daemon settings: one TOML file plus environment variables, environment winning.

Paths follow systemd first (``$STATE_DIRECTORY``, ``$RUNTIME_DIRECTORY``), then XDG, so the same
binary does the right thing as a system unit, a user unit, or from a shell.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from gepad.caps import DEFAULT_CAPS, BudgetCaps

__all__ = [
    "ConfigError",
    "EvaluatorSettings",
    "HookSettings",
    "Settings",
    "TokenGrant",
    "hash_token",
    "is_loopback",
    "load_settings",
]

DEFAULT_CONFIG_NAME = "gepad.toml"
# The top-level keys of the config file; any other is refused, naming it.
KNOWN_KEYS = frozenset({
    "state_dir", "runtime_dir", "socket", "tcp", "tokens", "grace_seconds", "writer_batch_max",
    "max_message_bytes", "max_concurrent_rounds", "nightly_cron", "evolve_debounce_seconds",
    "adapters", "hooks", "evaluators", "ingest_max_bytes", "budget", "tls_cert", "tls_key",
    "tcp_allow_plaintext",
})
# systemd credentials (LoadCredential=gepad-tls.crt:/etc/...) the daemon reads when no path is set.
TLS_CREDENTIALS = ("gepad-tls.crt", "gepad-tls.key")
_N = TypeVar("_N", int, float)


class ConfigError(ValueError):
    """The configuration file or environment holds a value gepad cannot use."""


def hash_token(token: str) -> str:
    """Tokens are stored and compared as SHA-256 hex digests, never in plain text."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenGrant:
    """A bearer token's scope: one user's data, or everything when ``user`` is None (admin)."""

    sha256: str
    user: str | None

    @property
    def is_admin(self) -> bool:
        return self.user is None


@dataclass(frozen=True)
class EvaluatorSettings:
    """The ``[evaluators]`` table: calibrating each user's evaluators against their labels
    (gepad/rounds/calibration_step.py). ``calibrate = false`` lets every evaluator decide
    promotion, calibrated or not, as before calibration existed."""

    calibrate: bool = True
    generate_after: int = 10  # labelled failures of a failure mode before it gets an evaluator
    min_labels: int = 10  # held-out labels below which an evaluator is advisory at most
    gating_mcc: float = 0.6
    advisory_mcc: float = 0.4


@dataclass(frozen=True)
class HookSettings:
    """The ``[hooks]`` table: who a coding agent's session is, and how long its hook may try.

    ``user`` None means the local login name (resolved by the hook, not here, so a daemon that
    never runs a hook never asks the system who is logged in).
    """

    user: str | None = None
    program: str = "editor.system"
    # Everything one hook run spends talking to the daemon (spool flush included).
    timeout_seconds: float = 2.0


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    runtime_dir: Path
    socket_path: Path
    tcp_address: str | None = None
    tokens: tuple[TokenGrant, ...] = ()
    config_path: Path | None = None
    # Seconds in-flight RPCs get to finish on shutdown before they are cancelled.
    grace_seconds: float = 3.0
    # Upper bound on how many writes one transaction groups (group commit).
    writer_batch_max: int = 1024
    max_message_bytes: int = 4 * 1024 * 1024
    # Rounds allowed to run at the same time across all users.
    max_concurrent_rounds: int = 2
    # Cron (minute hour day month weekday) of the nightly round for users with new data.
    nightly_cron: str = "17 3 * * *"
    # Debounce before a feedback-count trigger starts a round.
    evolve_debounce_seconds: float = 30.0
    # The [[adapters]] tables as written: each plugin reads its own keys when the daemon starts
    # (gepad.adapters.config), so a client command never imports a plugin.
    adapters: tuple[Mapping[str, Any], ...] = ()
    hooks: HookSettings = field(default_factory=HookSettings)
    evaluators: EvaluatorSettings = field(default_factory=EvaluatorSettings)
    # Wire bytes of feedback the daemon holds at once across all ingest calls (README: Feedback
    # ingest); a call that would pass it is answered RESOURCE_EXHAUSTED naming it.
    ingest_max_bytes: int = 64 * 1024 * 1024
    # Caps for whatever a program leaves unset ([budget]); each is finite.
    default_caps: BudgetCaps = DEFAULT_CAPS
    # TLS for the TCP listener: the server's certificate chain and key (PEM files).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Plain TCP beyond loopback (behind a TLS-terminating proxy, say): refused unless set.
    tcp_allow_plaintext: bool = False

    @property
    def database_path(self) -> Path:
        return self.state_dir / "gepad.sqlite3"

    def grant_for(self, token: str) -> TokenGrant | None:
        digest = hash_token(token)
        for grant in self.tokens:
            if grant.sha256 == digest:
                return grant
        return None


def default_config_path(env: Mapping[str, str]) -> Path:
    if "GEPAD_CONFIG" in env:
        return Path(env["GEPAD_CONFIG"])
    if "CONFIGURATION_DIRECTORY" in env:
        return Path(env["CONFIGURATION_DIRECTORY"].split(":")[0]) / DEFAULT_CONFIG_NAME
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gepad" / DEFAULT_CONFIG_NAME


def default_state_dir(env: Mapping[str, str]) -> Path:
    if "STATE_DIRECTORY" in env:
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gepad"


def default_runtime_dir(env: Mapping[str, str]) -> Path:
    if "RUNTIME_DIRECTORY" in env:
        return Path(env["RUNTIME_DIRECTORY"].split(":")[0])
    if "XDG_RUNTIME_DIR" in env:
        return Path(env["XDG_RUNTIME_DIR"]) / "gepad"
    return Path(f"/tmp/gepad-{os.getuid()}")


def load_settings(
    config_path: Path | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Read settings from ``config_path`` (or the default location, if it exists) and ``env``."""
    env = os.environ if env is None else env
    explicit = config_path is not None or "GEPAD_CONFIG" in env
    path = config_path or default_config_path(env)
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    elif explicit:
        raise ConfigError(f"{path}: config file does not exist")
    return _build(raw, env, path if path.exists() else None)


def _build(raw: dict[str, Any], env: Mapping[str, str], path: Path | None) -> Settings:
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        # A typo would otherwise leave a default silently in force.
        raise ConfigError(
            f"{unknown[0]}: unknown setting (known: {', '.join(sorted(KNOWN_KEYS))})"
        )

    state_dir = Path(env.get("GEPAD_STATE_DIR") or raw.get("state_dir") or default_state_dir(env))
    runtime_dir = Path(
        env.get("GEPAD_RUNTIME_DIR") or raw.get("runtime_dir") or default_runtime_dir(env)
    )
    socket_path = Path(env.get("GEPAD_SOCKET") or raw.get("socket") or runtime_dir / "gepad.sock")
    tcp = env.get("GEPAD_TCP") or raw.get("tcp") or None
    if tcp is not None and not isinstance(tcp, str):
        raise ConfigError("tcp: expected a 'host:port' string")

    tokens = list(_parse_tokens(raw.get("tokens", [])))
    admin_token = env.get("GEPAD_ADMIN_TOKEN")
    if admin_token:
        tokens.append(TokenGrant(hash_token(admin_token), None))
    if tcp and not tokens:
        raise ConfigError(
            "tcp is enabled but no token is configured: add [[tokens]] to the config file "
            "or set GEPAD_ADMIN_TOKEN (TCP never runs without authentication)"
        )

    tls_cert, tls_key = _tls(raw, env)
    allow_plaintext = raw.get("tcp_allow_plaintext", False)
    if not isinstance(allow_plaintext, bool):
        raise ConfigError("tcp_allow_plaintext: expected true or false")
    if tcp and tls_cert is None and not allow_plaintext and not is_loopback(tcp):
        raise ConfigError(
            f"tcp {tcp}: listens beyond loopback without TLS, so bearer tokens would cross the "
            "network in clear text; set tls_cert and tls_key (or systemd credentials "
            f"{' and '.join(TLS_CREDENTIALS)}), or tcp_allow_plaintext = true behind a proxy "
            "that terminates TLS")

    max_message_bytes = _number(raw, "max_message_bytes", 4 * 1024 * 1024, int)
    return Settings(
        state_dir=state_dir,
        runtime_dir=runtime_dir,
        socket_path=socket_path,
        tcp_address=tcp,
        tokens=tuple(tokens),
        config_path=path,
        grace_seconds=_number(raw, "grace_seconds", 3.0, float),
        writer_batch_max=_number(raw, "writer_batch_max", 1024, int),
        max_message_bytes=max_message_bytes,
        max_concurrent_rounds=_number(raw, "max_concurrent_rounds", 2, int),
        nightly_cron=str(raw.get("nightly_cron", "17 3 * * *")),
        evolve_debounce_seconds=_number(raw, "evolve_debounce_seconds", 30.0, float),
        adapters=_tables(raw, "adapters"),
        hooks=_hooks(raw.get("hooks", {}), env),
        evaluators=_evaluators(raw.get("evaluators", {})),
        ingest_max_bytes=_ingest_max_bytes(raw, max_message_bytes),
        default_caps=_caps(raw.get("budget", {})),
        tls_cert=tls_cert,
        tls_key=tls_key,
        tcp_allow_plaintext=allow_plaintext,
    )


def _ingest_max_bytes(raw: dict[str, Any], largest: int) -> int:
    limit = _number(raw, "ingest_max_bytes", 64 * 1024 * 1024, int)
    if limit < largest:
        # A batch as large as max_message_bytes could then never be taken.
        raise ConfigError(f"ingest_max_bytes ({limit}) must be at least max_message_bytes "
                          f"({largest})")
    return limit


def is_loopback(address: str) -> bool:
    """Whether a ``host:port`` listens only on this machine."""
    host = address.rsplit(":", 1)[0].strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name (or "" for every interface) may resolve beyond loopback


def _tls(raw: dict[str, Any], env: Mapping[str, str]) -> tuple[Path | None, Path | None]:
    cert = env.get("GEPAD_TLS_CERT") or raw.get("tls_cert")
    key = env.get("GEPAD_TLS_KEY") or raw.get("tls_key")
    if cert is None and key is None and "CREDENTIALS_DIRECTORY" in env:
        found = [Path(env["CREDENTIALS_DIRECTORY"]) / name for name in TLS_CREDENTIALS]
        if all(path.exists() for path in found):
            return found[0], found[1]
    if (cert is None) != (key is None):
        raise ConfigError("tls_cert and tls_key: set both (the certificate and its key) or neither")
    if cert is None or key is None:
        return None, None
    for name, value in (("tls_cert", cert), ("tls_key", key)):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{name}: expected the path of a PEM file")
    return Path(cert), Path(key)


def _caps(table: Any) -> BudgetCaps:
    if not isinstance(table, dict):
        raise ConfigError("budget: expected a table ([budget])")
    known = BudgetCaps.__dataclass_fields__
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"budget.{unknown[0]}: unknown key (known: {', '.join(known)})")
    values: dict[str, Any] = {}
    for key, value in table.items():
        kind = float if "cost" in key else int
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                0 < value < float("inf")):
            # A default of 0 or infinity would make a round without a cap.
            raise ConfigError(f"budget.{key}: expected a positive finite number, got {value!r}")
        values[key] = kind(value)
    return replace(DEFAULT_CAPS, **values)


def _parse_tokens(items: Any) -> list[TokenGrant]:
    if not isinstance(items, list):
        raise ConfigError("tokens: expected an array of tables ([[tokens]])")
    grants = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ConfigError(f"tokens[{i}]: expected a table")
        digest = item.get("sha256")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ConfigError(f"tokens[{i}].sha256: expected the 64-hex-digit SHA-256 of the token")
        user, admin = item.get("user"), item.get("admin", False)
        if (user is None) == (admin is not True):
            raise ConfigError(f"tokens[{i}]: set exactly one of user = \"<id>\" or admin = true")
        grants.append(TokenGrant(digest.lower(), user if isinstance(user, str) else None))
    return grants


def _hooks(table: Any, env: Mapping[str, str]) -> HookSettings:
    if not isinstance(table, dict):
        raise ConfigError("hooks: expected a table ([hooks])")
    unknown = sorted(set(table) - {"user", "program", "timeout_seconds"})
    if unknown:
        raise ConfigError(
            f"hooks.{unknown[0]}: unknown key (known: user, program, timeout_seconds)"
        )
    values: dict[str, str] = {}
    for key, var in (("user", "GEPAD_USER"), ("program", "GEPAD_PROGRAM")):
        value = env.get(var) or table.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"hooks.{key}: expected a non-empty string, got {value!r}")
        values[key] = value.strip()
    return HookSettings(
        user=values.get("user"),
        program=values.get("program", "editor.system"),
        timeout_seconds=_number(table, "timeout_seconds", 2.0, float),
    )


def _evaluators(table: Any) -> EvaluatorSettings:
    if not isinstance(table, dict):
        raise ConfigError("evaluators: expected a table ([evaluators])")
    known = ("calibrate", "generate_after", "min_labels", "gating_mcc", "advisory_mcc")
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"evaluators.{unknown[0]}: unknown key (known: {', '.join(known)})")
    calibrate = table.get("calibrate", True)
    if not isinstance(calibrate, bool):
        raise ConfigError(f"evaluators.calibrate: expected true or false, got {calibrate!r}")
    gating, advisory = table.get("gating_mcc", 0.6), table.get("advisory_mcc", 0.4)
    for key, value in (("gating_mcc", gating), ("advisory_mcc", advisory)):
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not -1.0 <= value <= 1.0:
            raise ConfigError(f"evaluators.{key}: expected a number within -1..1, got {value!r}")
    if advisory > gating:
        raise ConfigError(f"evaluators.advisory_mcc ({advisory}) is above gating_mcc ({gating})")
    return EvaluatorSettings(
        calibrate=calibrate,
        generate_after=_number(table, "generate_after", 10, int),
        min_labels=_number(table, "min_labels", 10, int),
        gating_mcc=float(gating), advisory_mcc=float(advisory),
    )


def _tables(raw: dict[str, Any], key: str) -> tuple[Mapping[str, Any], ...]:
    items = raw.get(key, [])
    if not isinstance(items, list):
        raise ConfigError(f"{key}: expected an array of tables ([[{key}]])")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ConfigError(f"{key}[{i}]: expected a table ([[{key}]])")
    return tuple(items)


def _number(raw: dict[str, Any], key: str, default: _N, kind: type[_N]) -> _N:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{key}: expected a positive number, got {value!r}")
    return kind(value)
