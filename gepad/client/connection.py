"""Where the daemon is and how to talk to it: target, bearer token, deadline, channel options.

Shared by the sync and async clients so both dial the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.aio

from gepad.settings import Settings

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_TIMEOUT",
    "Connection",
    "normalize_target",
    "read_ca",
    "target_for_settings",
]

# Long enough for a feedback batch to be committed, short enough that a hung daemon does not hang
# the host application: get_prompt's fallback only helps if calls give up.
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def normalize_target(target: str) -> str:
    """Accept ``unix:///path``, ``unix:/path``, a bare absolute path, or ``host:port``."""
    target = target.strip()
    if not target:
        raise ValueError("empty daemon target")
    if target.startswith("/"):
        return f"unix://{target}"
    return target


def read_ca(tls_ca: str | Path | bytes | None) -> bytes | None:
    """A CA given as PEM bytes or the path of a PEM file."""
    if tls_ca is None or isinstance(tls_ca, bytes):
        return tls_ca
    return Path(tls_ca).read_bytes()


def target_for_settings(settings: Settings) -> str:
    return f"unix://{settings.socket_path}"


@dataclass(frozen=True)
class Connection:
    target: str
    token: str | None = None
    # Deadline for every unary and client-streaming call; None waits forever. Server streams
    # (WatchPrompt, WatchRun) never get it: they are meant to stay open.
    timeout: float | None = DEFAULT_TIMEOUT
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    # PEM of the CA that signed the daemon's TLS certificate: dial TLS (TCP targets only).
    tls_ca: bytes | None = None

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        if not self.token:
            return ()
        return (("authorization", f"Bearer {self.token}"),)

    def credentials(self) -> grpc.ChannelCredentials | None:
        """TLS credentials trusting ``tls_ca``, or None for a plain channel."""
        if self.tls_ca is None:
            return None
        return grpc.ssl_channel_credentials(root_certificates=self.tls_ca)

    def dial(self) -> grpc.Channel:
        credentials = self.credentials()
        if credentials is None:
            return grpc.insecure_channel(self.target, options=self.channel_options)
        return grpc.secure_channel(self.target, credentials, options=self.channel_options)

    def dial_aio(self) -> grpc.aio.Channel:
        credentials = self.credentials()
        if credentials is None:
            return grpc.aio.insecure_channel(self.target, options=self.channel_options)
        return grpc.aio.secure_channel(self.target, credentials, options=self.channel_options)

    @property
    def channel_options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
            # gRPC's default reconnect backoff grows to two minutes, during which every call fails
            # fast with UNAVAILABLE: after a daemon restart clients would serve fallbacks for that
            # long. A local daemon is cheap to re-dial, so keep the backoff short.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 5_000),
        ]
