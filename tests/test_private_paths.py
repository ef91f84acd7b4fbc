"""The daemon's directories and files are its user's alone: a runtime or state directory someone
else owns or may write to is refused, the database is 0600, and nothing but a stale socket is
ever removed from the socket's path."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest

from gepad.private_paths import UnsafePathError
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import DaemonThread, make_settings

NOBODY = 65534


def start_fails(settings: object) -> BaseException:
    daemon = DaemonThread(settings)  # type: ignore[arg-type]
    try:
        with pytest.raises(BaseException) as info:
            daemon.wait_ready()
        return info.value
    finally:
        with contextlib.suppress(BaseException):  # stop() raises the start's error again
            daemon.stop()


def unsafe(exc: BaseException) -> UnsafePathError:
    # The daemon's task group may wrap the error it raised.
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    assert isinstance(exc, UnsafePathError), repr(exc)
    return exc


@pytest.fixture
def root(daemon_root: Path) -> Iterator[Path]:
    yield daemon_root


@pytest.mark.parametrize("which", ["runtime_dir", "state_dir"])
def test_a_directory_others_may_write_to_is_refused(root: Path, which: str) -> None:
    settings = make_settings(root, tcp=False)
    target: Path = getattr(settings, which)
    target.mkdir()
    target.chmod(0o777)
    message = str(unsafe(start_fails(settings)))
    assert message.startswith(f"{which} {target}: mode 0777"), message
    assert list(target.iterdir()) == []  # nothing was created in it


@pytest.mark.parametrize("which", ["runtime_dir", "state_dir"])
def test_a_directory_another_user_owns_is_refused(root: Path, which: str) -> None:
    settings = make_settings(root, tcp=False)
    target: Path = getattr(settings, which)
    target.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(target, NOBODY, NOBODY)
    else:  # a directory this user cannot have made: root's
        settings = replace(settings, **{which: Path("/"), "socket_path": Path("/gepad.sock")}
                           if which == "runtime_dir" else {which: Path("/")})
        target = Path("/")
    message = str(unsafe(start_fails(settings)))
    assert f"{which} {target}: owned by uid" in message, message
    assert "not by this user" in message


def test_a_regular_file_at_the_socket_path_is_never_deleted(root: Path) -> None:
    settings = make_settings(root, tcp=False)
    settings.runtime_dir.mkdir(mode=0o700)
    settings.socket_path.write_text("someone's notes")
    message = str(unsafe(start_fails(settings)))
    assert "a file is there, not a socket" in message
    assert settings.socket_path.read_text() == "someone's notes"


def test_a_directory_at_the_socket_path_is_a_clear_error(root: Path) -> None:
    settings = make_settings(root, tcp=False)
    settings.socket_path.mkdir(parents=True)
    message = str(unsafe(start_fails(settings)))
    assert "a directory is there, not a socket" in message
    assert settings.socket_path.is_dir()


def test_a_stale_socket_is_replaced_and_the_database_is_owner_only(root: Path) -> None:
    settings = make_settings(root, tcp=False)
    settings.runtime_dir.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(settings.socket_path))  # bound, never listening: what a killed daemon leaves
    stale.close()
    settings.state_dir.mkdir(mode=0o700)
    settings.database_path.touch(mode=0o644)  # an older gepad's file, readable by everyone
    old = os.umask(0)  # the caller's umask must not matter
    try:
        daemon = DaemonThread(settings)
        daemon.wait_ready()
    finally:
        os.umask(old)
    try:
        with grpc.insecure_channel(f"unix://{settings.socket_path}") as channel:
            pbg.GepadStub(channel).UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
                name="bot", seed_components={"system": "Be kind."})), timeout=10)
        files = sorted(settings.state_dir.glob("gepad.sqlite3*"))
        assert settings.database_path in files and len(files) >= 2  # with its WAL
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        daemon.stop()
