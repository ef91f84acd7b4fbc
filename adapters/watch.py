"""The change seam of the editor adapter: which files changed in some directories, until a stop
event. `WatchfilesChanges` uses watchfiles (inotify and its kin); `MemoryChanges` is told."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Protocol

import anyio
from watchfiles import awatch

__all__ = ["FileChanges", "MemoryChanges", "OnChange", "OnReady", "WatchfilesChanges"]

OnChange = Callable[[set[Path]], Awaitable[None]]
OnReady = Callable[[], Awaitable[None]]
# How long the watcher waits for a change before it says it is watching (and then again, idle).
READY_MS = 250


class FileChanges(Protocol):
    async def watch(self, directories: Sequence[Path], stop: anyio.Event,
                    on_change: OnChange, on_ready: OnReady) -> None:
        """Call ``on_ready`` once changes are being watched (a change made before it was not
        seen: look at the files then), then ``on_change`` with the paths changed in
        ``directories`` (not below them), one batch at a time, until ``stop`` is set; then
        return."""
        ...


class WatchfilesChanges:
    async def watch(self, directories: Sequence[Path], stop: anyio.Event,
                    on_change: OnChange, on_ready: OnReady) -> None:
        ready = False
        # The stop event ends the watcher's thread within one step; cancelling alone would wait
        # for its timeout. Its first answer, a change or an idle timeout, means it is watching.
        async for changes in awatch(*directories, stop_event=stop, recursive=False,
                                    watch_filter=None, debounce=400, step=50,
                                    rust_timeout=READY_MS, yield_on_timeout=True):
            if not ready:
                ready = True
                await on_ready()  # looks at every file: this batch's changes included
            elif changes:
                await on_change({Path(path) for _, path in changes})


class MemoryChanges:
    """Told which files changed (``push``), as the watcher would report them; no streams to
    close, so a double that never watched leaves nothing open."""

    def __init__(self) -> None:
        self._batches: list[set[Path]] = []
        self._arrived = anyio.Event()
        self.directories: list[Path] = []
        self.watching = anyio.Event()
        self.handled = 0  # batches on_change returned from
        self._handled_event = anyio.Event()

    def push(self, *paths: Path) -> None:
        self._batches.append(set(paths))
        self._arrived.set()

    async def wait_handled(self, batches: int) -> None:
        while self.handled < batches:
            self._handled_event = anyio.Event()
            await self._handled_event.wait()

    async def watch(self, directories: Sequence[Path], stop: anyio.Event,
                    on_change: OnChange, on_ready: OnReady) -> None:
        self.directories = list(directories)
        await on_ready()
        self.watching.set()
        async with anyio.create_task_group() as tg:
            async def stop_on_event() -> None:
                await stop.wait()
                tg.cancel_scope.cancel()

            tg.start_soon(stop_on_event)
            while True:
                while not self._batches:
                    self._arrived = anyio.Event()
                    await self._arrived.wait()
                await on_change(self._batches.pop(0))
                self.handled += 1
                self._handled_event.set()
