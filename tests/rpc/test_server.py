"""Where the daemon listens: the Unix socket is owner-only from the moment it exists."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from gepad.rpc.auth import Authenticator
from gepad.rpc.server import GrpcServer
from gepad.v1 import gepad_pb2 as pb
from tests.conftest import make_settings, short_tempdir


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    # The daemon must not rely on the caller's umask: with 0 nothing would be masked off.
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.anyio
async def test_the_socket_and_its_directory_are_owner_only_from_the_start(
    permissive_umask: None,
) -> None:
    root = short_tempdir()
    settings = make_settings(root, tcp=False)
    methods = pb.DESCRIPTOR.services_by_name["Gepad"].methods
    servicer = SimpleNamespace(**{m.name: None for m in methods})
    server = GrpcServer(servicer, Authenticator(()), settings)  # needs the running loop
    server.bind()  # grpc creates the socket file here, before the server starts
    try:
        assert _mode(settings.runtime_dir) == 0o700
        assert _mode(settings.socket_path) == 0o600
    finally:
        await server.server.stop(None)
        settings.socket_path.unlink(missing_ok=True)
        os.rmdir(settings.runtime_dir)
        os.rmdir(root)
