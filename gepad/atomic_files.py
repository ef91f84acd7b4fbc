"""Replacing a file whole: a reader sees the old content or the new, never half, and the new one
survives a crash once this returns (file and directory both synced)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: Path, data: bytes, *, mode: int | None = None,
                     before_replace: Callable[[], None] | None = None) -> None:
    """Write ``data`` beside ``path`` and rename it over ``path``. ``mode`` is the new file's
    permission bits (else the temporary file's, 0600); ``before_replace`` runs just before the
    rename and may raise to leave ``path`` as it was."""
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.gepad-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(partial, mode)
        if before_replace is not None:
            before_replace()
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
    # The rename is durable only once the directory is.
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
