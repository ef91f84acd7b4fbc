"""The agent's edits of files in one turn, and what the person did with them by their next
prompt. An edit whose text is gone from its file was undone (the replaced text is back) or
rewritten by the person: a verdict on that turn, whatever the next prompt's words say.

Claude Code's transcript carries its ``Edit`` / ``MultiEdit`` / ``Write`` tool calls; Cursor
sends ``afterFileEdit`` with the same old/new strings. Only what the agent wrote is compared,
as text: a person's other changes to the same file are theirs and say nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["FileEdit", "FileFate", "edits_from_tool_use", "fate_of", "read_text"]

# What one turn's record keeps: enough to recognise the edits, bounded however big they were.
MAX_EDITS = 32
MAX_TEXT = 16_384
# A file larger than this is not read: the hook must answer within the editor's timeout.
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class FileEdit:
    path: str
    before: str  # the text the agent replaced ("" when it wrote a whole file)
    after: str  # the text it put in its place

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "before": self.before, "after": self.after}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FileEdit:
        return cls(str(data["path"]), str(data["before"]), str(data["after"]))


def _edit(path: object, before: object, after: object, cwd: str) -> FileEdit | None:
    if not (isinstance(path, str) and path and isinstance(before, str)
            and isinstance(after, str)):
        return None
    # Recognising the text needs all of it: an edit longer than the bound is not judged.
    if not after.strip() or before == after or max(len(before), len(after)) > MAX_TEXT:
        return None
    return FileEdit(os.path.join(cwd, path) if cwd else path, before, after)


def edits_from_tool_use(name: object, arguments: object, cwd: str = "") -> list[FileEdit]:
    """The file edits of one tool call, by the name and input Claude Code and Cursor give them
    (``Edit``, ``MultiEdit``, ``Write``; Cursor's ``afterFileEdit`` reads as ``MultiEdit``)."""
    if not isinstance(arguments, Mapping):
        return []
    path = arguments.get("file_path")
    pairs: list[tuple[object, object]] = []
    if name == "Edit":
        pairs = [(arguments.get("old_string"), arguments.get("new_string"))]
    elif name == "MultiEdit":
        edits = arguments.get("edits")
        if isinstance(edits, list):
            pairs = [(e.get("old_string"), e.get("new_string")) for e in edits
                     if isinstance(e, Mapping)]
    elif name == "Write":
        pairs = [("", arguments.get("content"))]
    found = (_edit(path, before, after, cwd) for before, after in pairs)
    return [e for e in found if e is not None]


def bounded(edits: Iterable[FileEdit]) -> tuple[FileEdit, ...]:
    """The newest MAX_EDITS edits: the turn's last changes are what the person saw last."""
    return tuple(list(edits)[-MAX_EDITS:])


def read_text(path: str) -> str | None:
    """The file's text now; None when it is gone. Unreadable or too large: raises OSError."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise OSError(f"{path}: larger than {MAX_FILE_BYTES} bytes; not read")
    except FileNotFoundError:
        return None
    return p.read_text(encoding="utf-8", errors="replace")


@dataclass(frozen=True)
class FileFate:
    """What became of a turn's edits: the files whose edit the person undid or rewrote."""

    kept: int
    reverted: tuple[str, ...]
    rewritten: tuple[str, ...]

    @property
    def signal(self) -> Literal["reverted", "rewritten"] | None:
        if self.rewritten:
            return "rewritten"
        return "reverted" if self.reverted else None

    def comment(self, cwd: str = "") -> str:
        def names(paths: Sequence[str]) -> str:
            return ", ".join(os.path.relpath(p, cwd) if cwd and p.startswith(cwd) else p
                             for p in paths)

        parts = []
        if self.reverted:
            parts.append(f"the person undid the agent's edits of {names(self.reverted)}")
        if self.rewritten:
            parts.append(f"the person rewrote the agent's edits of {names(self.rewritten)}")
        return "; ".join(parts)


def fate_of(edits: Sequence[FileEdit],
            read: Callable[[str], str | None] = read_text) -> FileFate:
    """An edit is kept while its new text is in the file; undone when it is gone and the text
    it replaced is back (or a file it wrote is gone); rewritten otherwise. A file that cannot be
    read says nothing."""
    kept = 0
    reverted: dict[str, None] = {}
    rewritten: dict[str, None] = {}
    texts: dict[str, str | None] = {}
    for edit in edits:
        if edit.path not in texts:
            try:
                texts[edit.path] = read(edit.path)
            except (OSError, ValueError):
                continue
        now = texts[edit.path]
        if now is not None and edit.after in now:
            kept += 1
        elif now is None or (edit.before and edit.before in now):
            reverted[edit.path] = None
        else:
            rewritten[edit.path] = None
    undone = [p for p in reverted if p not in rewritten]
    return FileFate(kept, tuple(undone), tuple(rewritten))
