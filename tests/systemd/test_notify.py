"""sd_notify as systemd hears it: datagrams on NOTIFY_SOCKET, from the Notifier and from the
real daemon process (READY once serving, WATCHDOG from the event loop, STOPPING on SIGTERM)."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import grpc

from gepad.sdnotify import Notifier
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pb_grpc
from tests.conftest import short_tempdir
from tests.systemd.conftest import NotifyListener, SpawnDaemon


def _listener() -> NotifyListener:
    return NotifyListener(short_tempdir() / "notify.sock")


def _raw(listener: NotifyListener) -> str:
    listener.sock.settimeout(2)
    return listener.sock.recv(65536).decode()


def test_notifier_sends_each_state_as_one_datagram() -> None:
    listener = _listener()
    try:
        notifier = Notifier({"NOTIFY_SOCKET": str(listener.path), "WATCHDOG_USEC": "200000"})
        assert notifier.enabled
        assert notifier.watchdog_interval == 0.1  # half the deadline

        notifier.ready("serving on unix:/run/gepad/gepad.sock")
        assert _raw(listener) == "READY=1\nSTATUS=serving on unix:/run/gepad/gepad.sock"
        notifier.status("3 rounds running")
        assert _raw(listener) == "STATUS=3 rounds running"
        notifier.watchdog()
        assert _raw(listener) == "WATCHDOG=1"
        notifier.stopping()
        assert _raw(listener) == "STOPPING=1\nSTATUS=shutting down"
    finally:
        listener.close()


def test_abstract_namespace_socket() -> None:
    name = f"gepad-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        Notifier({"NOTIFY_SOCKET": "@" + name}).ready("up")
        assert sock.recv(1024) == b"READY=1\nSTATUS=up"


def test_outside_systemd_everything_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.watchdog_interval is None
    notifier.ready("x")
    notifier.watchdog()
    notifier.stopping()


def test_watchdog_meant_for_another_process_is_ignored() -> None:
    env = {"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "200000",
           "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(env).watchdog_interval is None
    env["WATCHDOG_PID"] = str(os.getpid())
    assert Notifier(env).watchdog_interval == 0.1
    assert Notifier({"WATCHDOG_USEC": "soon"}).watchdog_interval is None


def test_a_vanished_service_manager_does_not_raise(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    notifier.ready("x")
    notifier.watchdog()
    notifier.stopping()


def test_daemon_process_ready_watchdog_stopping(spawn_daemon: SpawnDaemon) -> None:
    daemon, notify = spawn_daemon({"WATCHDOG_USEC": "200000"})
    ready = notify.wait_for("READY", timeout=60, alive=daemon.alive)
    assert ready["READY"] == "1"
    assert str(daemon.socket_path) in ready.get("STATUS", ""), ready
    # READY=1 means serving: the socket answers at once, owner-only.
    assert daemon.socket_path.stat().st_mode & 0o777 == 0o600
    with grpc.insecure_channel(f"unix:{daemon.socket_path}") as channel:
        reply = pb_grpc.GepadStub(channel).ListPrograms(pb.ListProgramsRequest(), timeout=10)
    assert list(reply.programs) == []

    # WATCHDOG_USEC=200000: pings every 0.1 s from the event loop.
    before = sum("WATCHDOG" in m for m in notify.messages)
    start = time.monotonic()
    while sum("WATCHDOG" in m for m in notify.messages) < before + 5:
        assert time.monotonic() - start < 10, f"too few WATCHDOG=1 pings: {notify.messages}"
        notify.wait_for("WATCHDOG", timeout=5, alive=daemon.alive)
    assert all(m["WATCHDOG"] == "1" for m in notify.messages if "WATCHDOG" in m)
    first_ready = next(i for i, m in enumerate(notify.messages) if "READY" in m)
    first_ping = next(i for i, m in enumerate(notify.messages) if "WATCHDOG" in m)
    assert first_ready < first_ping

    daemon.proc.send_signal(signal.SIGTERM)
    stopping = notify.wait_for("STOPPING", timeout=20)
    assert stopping["STOPPING"] == "1"
    assert daemon.terminate(signalled=True) == 0, daemon.log()
    assert not daemon.socket_path.exists()


def test_daemon_without_watchdog_sends_no_pings(spawn_daemon: SpawnDaemon) -> None:
    daemon, notify = spawn_daemon()
    notify.wait_for("READY", timeout=60, alive=daemon.alive)
    while notify.receive(0.5) is not None:
        pass
    assert not any("WATCHDOG" in m for m in notify.messages), notify.messages
    assert daemon.terminate() == 0, daemon.log()
    notify.wait_for("STOPPING", timeout=5)
