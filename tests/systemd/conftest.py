"""The daemon as systemd runs it: a separate process, told where to report over NOTIFY_SOCKET."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN, free_port, short_tempdir

# What `gepad serve` runs: settings from the environment, then the composition root. Spelled out
# here so these tests exercise the daemon and sd_notify, not the command-line parser.
SERVE = (
    "import logging, anyio\n"
    "from gepad.settings import load_settings\n"
    "from gepad.daemon import run_daemon\n"
    "logging.basicConfig(level=logging.INFO)\n"
    "anyio.run(run_daemon, load_settings())\n"
)


class NotifyListener:
    """A NOTIFY_SOCKET: a bound SOCK_DGRAM Unix socket collecting what the daemon says."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[dict[str, str]] = []

    def close(self) -> None:
        self.sock.close()

    def receive(self, timeout: float) -> dict[str, str] | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536).decode()
        except TimeoutError:
            return None
        fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
        self.messages.append(fields)
        return fields

    def wait_for(
        self, key: str, timeout: float, alive: Callable[[], bool] = lambda: True
    ) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not alive():
                raise AssertionError(f"the daemon exited before sending {key}")
            message = self.receive(min(left, 0.25))
            if message is not None and key in message:
                return message
        raise AssertionError(f"no {key} within {timeout}s; received {self.messages}")


class DaemonProcess:
    def __init__(self, root: Path, notify: NotifyListener, extra_env: dict[str, str],
                 preexec_fn: Callable[[], None] | None = None, tcp: bool = False) -> None:
        self.root = root
        self.socket_path = root / "run" / "gepad.sock"
        self.tcp_port = free_port() if tcp else None
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GEPAD_", "NOTIFY_", "WATCHDOG_", "LISTEN_"))}
        env.update(
            GEPAD_STATE_DIR=str(root / "state"),
            GEPAD_RUNTIME_DIR=str(root / "run"),
            GEPAD_ADMIN_TOKEN=ADMIN_TOKEN,
            XDG_CONFIG_HOME=str(root / "config"),
            NOTIFY_SOCKET=str(notify.path),
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            PYTHONPATH=str(Path(__file__).resolve().parents[2]),
        )
        if self.tcp_port:
            env["GEPAD_TCP"] = f"127.0.0.1:{self.tcp_port}"
        env.update(extra_env)
        self.log_path = root / "daemon.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SERVE], env=env, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=preexec_fn,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 20.0, *, signalled: bool = False) -> int:
        """SIGTERM (unless the test already sent it: a second one during shutdown would meet
        the default handler) and the exit status."""
        if not signalled and self.alive():
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"daemon ignored SIGTERM for {timeout}s:\n{self.log()}") from None


SpawnDaemon = Callable[..., tuple[DaemonProcess, NotifyListener]]


@pytest.fixture
def spawn_daemon() -> Iterator[SpawnDaemon]:
    """spawn_daemon(extra_env={...}, preexec_fn=None, tcp=False) -> (daemon, notify listener)."""
    started: list[tuple[DaemonProcess, NotifyListener, Path]] = []

    def spawn(extra_env: dict[str, str] | None = None,
              preexec_fn: Callable[[], None] | None = None,
              tcp: bool = False) -> tuple[DaemonProcess, NotifyListener]:
        root = short_tempdir()
        notify = NotifyListener(root / "notify.sock")
        daemon = DaemonProcess(root, notify, extra_env or {}, preexec_fn, tcp)
        started.append((daemon, notify, root))
        return daemon, notify

    yield spawn
    for daemon, notify, root in started:
        if daemon.alive():
            daemon.proc.kill()
            daemon.proc.wait()
        notify.close()
        shutil.rmtree(root, ignore_errors=True)
