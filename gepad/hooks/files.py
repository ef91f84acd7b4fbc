"""The hooks' own files under ``<state_dir>/hooks``: a private directory and the log (their
records are written with gepad.atomic_files)."""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["append_log", "private_dir"]


def private_dir(path: Path) -> Path:
    """``path``, made 0700: prompts and answers are the person's words and code."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkdir's mode is masked by the umask and ignored for a directory that already exists.
    os.chmod(path, 0o700)
    return path


def append_log(path: Path, line: str) -> None:
    """One line in the hooks' log; the editor reads the hook's stdout, so nothing goes there."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(f"{stamp} {' '.join(line.split())[:2000]}\n")
