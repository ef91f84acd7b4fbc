"""The file seam of the editor adapter: read a file, replace it atomically. `DiskFiles` is the
real one; `MemoryFiles` keeps files in a dict for tests."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Protocol

import anyio

from gepad.atomic_files import write_atomically

__all__ = ["DiskFiles", "FileChangedError", "Files", "MemoryFiles"]

# A file gepad creates gets the mode an editor would give it.
NEW_FILE_MODE = 0o644


class FileChangedError(OSError):
    """The file changed between reading it and replacing it: someone is saving it right now."""


class Files(Protocol):
    async def read(self, path: Path) -> str | None:
        """The file's text; None when there is no such file."""
        ...

    async def write(self, path: Path, text: str, *, expect: str | None) -> None:
        """Replace the file whole, atomically, keeping its mode, unless it no longer holds
        ``expect`` (None: it did not exist), which raises FileChangedError. A symlink is
        followed: the file it points to is replaced, the link stays."""
        ...

    def resolve(self, path: Path) -> Path:
        """The path with symlinks followed."""
        ...

    async def make_dir(self, path: Path) -> None: ...


def _read(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    # Bytes that are not UTF-8 come back unchanged on write: text outside gepad's block is the
    # person's, byte for byte.
    return data.decode("utf-8", "surrogateescape")


def _write(path: Path, text: str, expect: str | None) -> None:
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = NEW_FILE_MODE

    def unchanged() -> None:
        if _read(path) != expect:
            raise FileChangedError(f"{path} changed while gepad was writing it")

    write_atomically(path, text.encode("utf-8", "surrogateescape"), mode=mode,
                     before_replace=unchanged)


class DiskFiles:
    async def read(self, path: Path) -> str | None:
        return await anyio.to_thread.run_sync(_read, path)

    async def write(self, path: Path, text: str, *, expect: str | None) -> None:
        await anyio.to_thread.run_sync(_write, path, text, expect)

    def resolve(self, path: Path) -> Path:
        return path.resolve()

    async def make_dir(self, path: Path) -> None:
        await anyio.to_thread.run_sync(lambda: path.mkdir(parents=True, exist_ok=True))


class MemoryFiles:
    """Files in a dict; ``links`` maps a path to the path it points to."""

    def __init__(self, files: dict[Path, str] | None = None) -> None:
        self.files: dict[Path, str] = dict(files or {})
        self.links: dict[Path, Path] = {}
        self.writes: list[Path] = []
        self.dirs: set[Path] = set()

    async def read(self, path: Path) -> str | None:
        return self.files.get(self.resolve(path))

    async def write(self, path: Path, text: str, *, expect: str | None) -> None:
        path = self.resolve(path)
        if self.files.get(path) != expect:
            raise FileChangedError(f"{path} changed while gepad was writing it")
        self.files[path] = text
        self.writes.append(path)

    def resolve(self, path: Path) -> Path:
        return self.links.get(path, path)

    async def make_dir(self, path: Path) -> None:
        self.dirs.add(path)
