"""The change seam of the editor adapter: which files changed in some directories, until a stop
event. `WatchfilesChanges` uses watchfiles (inotify and its kin); `MemoryChanges` is told."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

import anyio
from watchfiles import awatch

__all__ = ["FileChanges", "MemoryChanges", "OnChange", "WatchfilesChanges"]

OnChange = Callable[[set[Path]], Awaitable[None]]


class FileChanges(Protocol):
    async def watch(self, directories: Sequence[Path], stop: anyio.Event,
                    on_change: OnChange) -> None:
        """Call ``on_change`` with the paths changed in ``directories`` (not below them), one
        batch at a time, until ``stop`` is set; then return."""
        ...


class WatchfilesChanges:
    async def watch(self, directories: Sequence[Path], stop: anyio.Event,
                    on_change: OnChange) -> None:
        # The stop event ends the watcher's thread within one step; cancelling alone would wait
        # for its timeout.
        async for changes in awatch(*directories, stop_event=stop, recursive=False,
                                    watch_filter=None, debounce=400, step=50):
            await on_change({Path(path) for _, path in changes})


class MemoryChanges:
    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[set[Path]](100)
        self.directories: list[Path] = []
        self.watching = anyio.Event()
        self.handled = 0  # batches on_change returned from
        self._handled_event = anyio.Event()

    def push(self, *paths: Path) -> None:
        self._send.send_nowait(set(paths))

    async def wait_handled(self, batches: int) -> None:
        while self.handled < batches:
            self._handled_event = anyio.Event()
            await self._handled_event.wait()

    async def watch(self, directories: Sequence[Path], stop: anyio.Event,
                    on_change: OnChange) -> None:
        self.directories = list(directories)
        self.watching.set()
        async with anyio.create_task_group() as tg:
            async def stop_on_event() -> None:
                await stop.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(stop_on_event)
            async for paths in self._receive:
                await on_change(paths)
                self.handled += 1
                self._handled_event.set()
