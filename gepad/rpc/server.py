"""The gRPC server: where it listens, with which limits, plus health and reflection."""

from __future__ import annotations

import os

import grpc
from grpc_health.v1 import _async as health_aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from gepad.private_paths import SocketInUseError, clear_stale_socket, private_dir
from gepad.rpc.auth import Authenticator
from gepad.rpc.handlers import generic_handler
from gepad.settings import ConfigError, Settings
from gepad.v1 import gepad_pb2 as pb

__all__ = ["SERVICE_NAME", "GrpcServer", "SocketInUseError"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Gepad"].full_name


def _server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS for the TCP listener, from the PEM files the settings name (None: plain TCP)."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    pem: dict[str, bytes] = {}
    for name, path in (("tls_cert", settings.tls_cert), ("tls_key", settings.tls_key)):
        try:
            pem[name] = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{name} {path}: cannot read it: {exc.strerror}") from None
        if b"-----BEGIN" not in pem[name]:
            raise ConfigError(f"{name} {path}: not a PEM file")
    return grpc.ssl_server_credentials([(pem["tls_key"], pem["tls_cert"])])


class GrpcServer:
    def __init__(self, servicer: object, auth: Authenticator, settings: Settings) -> None:
        limit = settings.max_message_bytes
        self.settings = settings
        self.server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                ("grpc.so_reuseport", 0),
            ]
        )
        self.server.add_generic_rpc_handlers((generic_handler(servicer, auth),))
        self.health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.socket_path = settings.socket_path
        self.tcp_port: int | None = None

    def bind(self) -> None:
        path = self.socket_path
        private_dir(path.parent, "runtime_dir")
        clear_stale_socket(path)
        # The socket is created by grpc's core; the umask makes it 0600 from its first moment.
        old = os.umask(0o177)
        try:
            self.server.add_insecure_port(f"unix:{path}")
        finally:
            os.umask(old)
        if self.settings.tcp_address:
            credentials = _server_credentials(self.settings)
            port = (self.server.add_insecure_port(self.settings.tcp_address) if credentials is None
                    else self.server.add_secure_port(self.settings.tcp_address, credentials))
            if port == 0:
                raise OSError(f"cannot listen on {self.settings.tcp_address}")
            self.tcp_port = port

    async def start(self) -> None:
        await self.server.start()
        os.chmod(self.socket_path, 0o600)
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        self.socket_path.unlink(missing_ok=True)
