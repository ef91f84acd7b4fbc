"""The hooks' own files under ``<state_dir>/hooks``: private, written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

__all__ = ["append_log", "private_dir", "write_atomically"]


def private_dir(path: Path) -> Path:
    """``path``, made 0700: prompts and answers are the person's words and code."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkdir's mode is masked by the umask and ignored for a directory that already exists.
    os.chmod(path, 0o700)
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """A reader (the next hook run, racing this one) sees the old file or the new, never half."""
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def append_log(path: Path, line: str) -> None:
    """One line in the hooks' log; the editor reads the hook's stdout, so nothing goes there."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(f"{stamp} {' '.join(line.split())[:2000]}\n")
