"""Fixtures that start the real daemon: a real SQLite file, a real Unix socket, real TCP."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.from_thread
import pytest

from gepad.daemon import run_daemon
from gepad.settings import Settings, TokenGrant, hash_token

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Clients spool undelivered feedback under $XDG_STATE_HOME: never the home of whoever runs tests.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="gepad-test-state-")

TOKEN_USERS = ("alice", "bob", "carol", "demo-user", "u1", "u2")
ADMIN_TOKEN = "admin-secret-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def short_tempdir() -> Path:
    # Unix socket paths are limited to ~107 bytes; pytest's tmp_path can be longer.
    return Path(tempfile.mkdtemp(prefix="gepad-t-", dir="/tmp"))


def make_settings(root: Path, *, tcp: bool = True) -> Settings:
    grants = [TokenGrant(hash_token(ADMIN_TOKEN), None)]
    grants += [TokenGrant(hash_token(f"token-of-{u}"), u) for u in TOKEN_USERS]
    return Settings(
        state_dir=root / "state",
        runtime_dir=root / "run",
        socket_path=root / "run" / "gepad.sock",
        tcp_address=f"127.0.0.1:{free_port()}" if tcp else None,
        tokens=tuple(grants),
        grace_seconds=1.0,
    )


@dataclass
class RunningDaemon:
    settings: Settings
    admin_token: str = ADMIN_TOKEN
    _portal: anyio.from_thread.BlockingPortal | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        return f"unix://{self.settings.socket_path}"

    @property
    def tcp_target(self) -> str:
        assert self.settings.tcp_address is not None
        return self.settings.tcp_address

    def user_token(self, user_id: str) -> str:
        if user_id not in TOKEN_USERS:
            raise KeyError(f"tests/conftest.py grants tokens only to {TOKEN_USERS}")
        return f"token-of-{user_id}"


class DaemonThread:
    """Runs ``run_daemon`` on its own event loop in a thread; stop() is a graceful shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ready = threading.Event()
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._stop = self._portal.call(anyio.Event)
        self._future = self._portal.start_task_soon(self._run)

    async def _run(self) -> None:
        await run_daemon(
            self.settings, ready=self._ready.set, stop=self._stop, handle_signals=False
        )

    def wait_ready(self, timeout: float = 10.0) -> None:
        if not self._ready.wait(timeout):
            if self._future.done():
                self._future.result()
            raise TimeoutError("daemon did not become ready")

    def stop(self, timeout: float = 10.0) -> None:
        if not self._future.done():
            self._portal.call(self._stop.set)
        try:
            self._future.result(timeout)
        finally:
            self._portal_cm.__exit__(None, None, None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def daemon_root() -> Iterator[Path]:
    root = short_tempdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def running_daemon(daemon_root: Path) -> Iterator[RunningDaemon]:
    settings = make_settings(daemon_root)
    thread = DaemonThread(settings)
    thread.wait_ready()
    try:
        yield RunningDaemon(settings)
    finally:
        thread.stop()
