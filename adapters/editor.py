"""The editor adapter: one user's prompt in one repository, in the files coding agents read
(see `editor_files`), and a person's edit of it taken back as feedback.

Delivery rewrites only what changed, atomically. The edit watch (watchfiles) reads a changed
file once it has stopped changing for ``settle_seconds``; gepad's own writes are recognised by
content hash, a half-written block is never read, and an edit is recorded as a PROMPT_EDIT that
is served pinned. A delivery never overwrites an edit the watch has not read yet.

    [[adapters]]
    plugin = "editor"
    user = "alice"
    program = "editor.system"
    root = "/home/alice/src/project"
    files = ["agents", "claude", "cursor"]
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from gepad.adapters.protocols import API_VERSION, AdapterSetup, Delivery, EditChannel

from .blocks import normalize
from .editor_files import FILE_KINDS, EditorFileError, PromptFile, editor_files
from .files import DiskFiles, Files
from .watch import FileChanges, WatchfilesChanges

__all__ = ["EditorAdapter"]

# A file still changing after this many settle periods is being written continuously: skipped.
MAX_SETTLE_ROUNDS = 20


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


class EditorAdapter:
    api_version = API_VERSION

    def __init__(
        self,
        setup: AdapterSetup,
        *,
        files: Files | None = None,
        changes: FileChanges | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if setup.user_id is None:
            raise setup.error("user", "is required: the editor adapter keeps one user's prompt "
                              "in one repository")
        self._io = files or DiskFiles()
        self._changes = changes or WatchfilesChanges()
        self._sleep = sleep
        self._root = setup.path("root")
        if files is None and not self._root.is_dir():
            raise setup.error("root", f"{self._root} is not a directory")
        kinds = setup.texts("files", ("agents",))
        for kind in kinds:
            if kind not in FILE_KINDS:
                raise setup.error("files", f"unknown file {kind!r}; choose from "
                                  f"{', '.join(FILE_KINDS)}")
        for kind in ("claude", "aider"):
            if kind in kinds and "agents" not in kinds:
                raise setup.error("files", f"{kind!r} reads AGENTS.md: add \"agents\" too")
        self._component = setup.text("component", "system")
        self._settle = setup.number("settle_seconds", 1.0)
        self.watches_edits = setup.flag("watch_edits", True)
        self._files = editor_files(kinds, setup.user_id, setup.program)
        # What gepad last wrote (or found already right) in each file, by content hash.
        self._own: dict[Path, str] = {}
        # The prompt text each file holds as far as gepad knows (delivered, or a person's edit
        # adopted from it); an edit is a file's text that differs from it. Per file, because
        # after an edit is adopted from one file the others hold the old text until the edit
        # is delivered to them, and that is no edit back.
        self._known: dict[Path, str] = {}

    def _path(self, f: PromptFile) -> Path:
        return self._root / f.path

    # ------------------------------------------------------------------ delivery

    async def deliver(self, delivery: Delivery) -> None:
        text = delivery.components.get(self._component)
        if text is None:
            names = ", ".join(sorted(delivery.components)) or "none"
            raise EditorFileError(f"the served prompt has no component {self._component!r} "
                                  f"(it has: {names}); set component in the adapter's table")
        problems = []
        for f in self._files:
            path = self._path(f)
            if f.path == "CLAUDE.md" and self._io.resolve(path) == self._io.resolve(
                    self._root / "AGENTS.md"):
                continue  # CLAUDE.md is a link to AGENTS.md: Claude reads the block already
            try:
                current = await self._io.read(path)
                if self._unread_edit(f, path, current, text):
                    problems.append(f"{f.path}: holds an edit gepad has not read yet; it is "
                                    "read first")
                    continue
                new = f.render(current, text)
                if new != current:
                    await self._io.write(path, new, expect=current)
                self._own[path] = _digest(new)
                if f.carries_prompt:
                    self._known[path] = normalize(text)
            except (EditorFileError, OSError) as exc:
                problems.append(f"{f.path}: {exc}")
        if problems:
            raise EditorFileError("; ".join(problems))

    def _unread_edit(self, f: PromptFile, path: Path, current: str | None, text: str) -> bool:
        known = self._known.get(path)
        if not f.carries_prompt or current is None or known is None:
            return False
        if self._own.get(path) == _digest(current):
            return False
        now = f.read(current).text
        return now is not None and now not in (known, normalize(text))

    # ------------------------------------------------------------------ edits

    async def watch_edits(self, edits: EditChannel) -> None:
        watched = [f for f in self._files if f.carries_prompt]
        directories = sorted({self._path(f).parent for f in watched})
        for directory in directories:
            await self._io.make_dir(directory)
        by_path = {self._path(f): f for f in watched}

        async def ready() -> None:
            # Looked at once changes are watched, so that no edit falls between the two.
            delivered = edits.delivered()
            if delivered is None:
                return  # a delivery is pending: the watch reads edits made after it
            # Up to date: a file that differs now was edited while gepad was not running (or
            # while the watch was starting).
            for f in watched:
                self._known.setdefault(self._path(f), self._text_of(delivered))
            for f in watched:
                await self._check(f, edits)

        async def changed(paths: set[Path]) -> None:
            for path in sorted(paths):
                f = by_path.get(path)
                if f is not None:
                    await self._check(f, edits)

        await self._changes.watch(directories, edits.stop, changed, ready)

    async def _settled(self, path: Path) -> tuple[bool, str | None]:
        """The file's content once it stayed the same for one settle period."""
        content = await self._io.read(path)
        for _ in range(MAX_SETTLE_ROUNDS):
            await self._sleep(self._settle)
            again = await self._io.read(path)
            if again == content:
                return True, content
            content = again
        return False, content

    async def _check(self, f: PromptFile, edits: EditChannel) -> None:
        path = self._path(f)
        settled, content = await self._settled(path)
        if not settled:
            edits.note(f.path, "kept changing; not read")
            return
        if content is None or self._own.get(path) == _digest(content):
            return  # removed (the next delivery writes it again), or gepad's own write
        read = f.read(content)
        if read.text is None:
            edits.note(f.path, f"{read.problem}; not adopted")
            return
        known = self._known.get(path)
        if known is None:
            delivered = edits.delivered()
            if delivered is None:
                edits.note(f.path, "a delivery is pending; edits are read after it")
                return
            known = self._known[path] = self._text_of(delivered)
        if read.text == known:
            return  # a change outside the prompt
        served = edits.served()
        if served is None:
            return
        components = dict(served.components)
        components[self._component] = read.text
        if await edits.edited(components, where=f.path):
            self._known[path] = read.text

    def _text_of(self, delivery: Delivery) -> str:
        return normalize(delivery.components.get(self._component, ""))
