"""The daemon's own directories and files: only its user may own or write them.

The default runtime directory (``/tmp/gepad-$UID``) is in a world-writable place: another local
user can create it first, and whoever owns it can replace the socket clients connect to. So a
directory the daemon did not make private is refused, never used as it is; and nothing but a
stale socket is ever removed from the socket's path.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from pathlib import Path

from gepad.settings import ConfigError

__all__ = ["SocketInUseError", "UnsafePathError", "clear_stale_socket", "private_dir",
           "private_file"]


class UnsafePathError(ConfigError):
    """A directory or file the daemon would use is not private to its user."""


class SocketInUseError(RuntimeError):
    pass


def private_dir(path: Path, setting: str) -> Path:
    """Create ``path`` (mode 0700) or check that the existing one is a directory owned by this
    user that no one else may write to; ``setting`` names what the user would change."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        info = path.stat()
    except OSError as exc:
        raise UnsafePathError(f"{setting} {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"{setting} {path}: is not a directory")
    uid = os.geteuid()
    if info.st_uid != uid:
        raise UnsafePathError(
            f"{setting} {path}: owned by uid {info.st_uid}, not by this user (uid {uid}); "
            "another user may have created it to take over gepad's socket or data: remove it, "
            f"or set {setting} to a directory of your own")
    if info.st_mode & 0o022:
        raise UnsafePathError(
            f"{setting} {path}: mode {stat.S_IMODE(info.st_mode):04o} lets other users write "
            f"there; `chmod go-w {path}` (gepad creates it 0700)")
    return path


def private_file(path: Path) -> None:
    """Create ``path`` mode 0600 if missing, or narrow an existing one to 0600 (SQLite gives its
    -wal and -shm files the database file's mode)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def clear_stale_socket(path: Path) -> None:
    """Remove a socket left by a killed daemon; refuse one a live daemon answers on, and never
    touch anything at that path that is not a socket."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else (
            "a symbolic link" if stat.S_ISLNK(info.st_mode) else "a file")
        raise UnsafePathError(
            f"socket {path}: {kind} is there, not a socket; gepad removes only a stale socket: "
            "move it away or set socket to another path")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError as exc:
        if exc.errno not in (errno.ECONNREFUSED, errno.ENOENT):
            raise
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise SocketInUseError(f"{path}: another gepad is already listening there")
