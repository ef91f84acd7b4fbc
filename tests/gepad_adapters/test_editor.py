"""The editor adapter on in-memory files and changes: what it writes, what it reads back as a
person's edit, and what it ignores (its own writes, text outside the block, a half-written
save, a file still changing)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from gepad.adapters import AdapterSetup, Delivery
from gepad.settings import ConfigError
from gepad_adapters.blocks import END
from gepad_adapters.editor import EditorAdapter
from gepad_adapters.editor_files import EditorFileError
from gepad_adapters.files import MemoryFiles
from gepad_adapters.watch import MemoryChanges, OnChange, OnReady

pytestmark = pytest.mark.anyio

ROOT = Path("/repo")
AGENTS, CLAUDE, CURSOR = ROOT / "AGENTS.md", ROOT / "CLAUDE.md", ROOT / ".cursor/rules/gepad.mdc"


def delivery(version: int, text: str, **others: str) -> Delivery:
    return Delivery("repo", "alice", "editor", f"c{version}", version,
                    {"system": text, **others}, False, 0.0)


def setup(**options: Any) -> AdapterSetup:
    table = {"root": str(ROOT), "files": ["agents", "claude", "cursor"], **options}
    return AdapterSetup(index=0, name="repo", plugin="editor", user_id="alice",
                        program="editor", options=table, env={})


@dataclass
class Channel:
    """An EditChannel that adopts every edit as the next version."""

    state: Delivery
    confirmed: bool = True
    stop: anyio.Event = field(default_factory=anyio.Event)
    edits: list[tuple[dict[str, str], str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)

    def served(self) -> Delivery | None:
        return self.state

    def delivered(self) -> Delivery | None:
        return self.state if self.confirmed else None

    async def edited(self, components: Mapping[str, str], *, where: str) -> bool:
        self.edits.append((dict(components), where))
        self.state = replace(self.state, version=self.state.version + 1,
                             components=dict(components))
        return True

    def note(self, where: str, what: str) -> None:
        self.notes.append((where, what))


@dataclass
class Settling:
    """The settle wait: records each and, when a hook is queued, runs it first (a person's editor
    writing again while gepad waits)."""

    hooks: list[Callable[[], None]] = field(default_factory=list)
    waits: int = 0

    async def __call__(self, seconds: float) -> None:
        self.waits += 1
        if self.hooks:
            self.hooks.pop(0)()
        await anyio.lowlevel.checkpoint()


@dataclass
class Repo:
    files: MemoryFiles = field(default_factory=MemoryFiles)
    changes: MemoryChanges = field(default_factory=MemoryChanges)
    settling: Settling = field(default_factory=Settling)
    batches: int = 0

    def adapter(self, **options: Any) -> EditorAdapter:
        return EditorAdapter(setup(**options), files=self.files, changes=self.changes,
                             sleep=self.settling)

    @asynccontextmanager
    async def watching(self, adapter: EditorAdapter, channel: Channel) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(adapter.watch_edits, channel)
            await self.changes.watching.wait()
            yield
            channel.stop.set()

    async def changed(self, *paths: Path) -> None:
        """Tell the watch these files changed and wait until it has looked at them."""
        self.changes.push(*paths)
        self.batches += 1
        await self.changes.wait_handled(self.batches)

    def edit_block(self, text: str) -> None:
        doc = self.files.files[AGENTS]
        start = doc.index("\n", doc.index("<!-- gepad:begin")) + 1
        self.files.files[AGENTS] = doc[:start] + text + "\n" + doc[doc.index(END):]


async def test_delivery_writes_each_file_once_and_only_what_changed() -> None:
    repo = Repo(MemoryFiles({AGENTS: "# My project\nUse tabs.\n", CLAUDE: "# Claude\n"}))
    adapter = repo.adapter()
    await adapter.deliver(delivery(1, "Be brief."))
    agents = repo.files.files[AGENTS]
    assert agents.startswith("# My project\nUse tabs.\n\n<!-- gepad:begin alice's prompt")
    assert agents.endswith("\nBe brief.\n<!-- gepad:end -->\n")
    assert repo.files.files[CLAUDE] == "# Claude\n\n@AGENTS.md\n"
    assert "alwaysApply: true\n---\n\nBe brief.\n" in repo.files.files[CURSOR]
    assert sorted(repo.files.writes) == sorted([AGENTS, CLAUDE, CURSOR])

    await adapter.deliver(delivery(1, "Be brief."))  # the same version again: nothing to do
    assert len(repo.files.writes) == 3
    await adapter.deliver(delivery(2, "Be briefer."))
    assert repo.files.writes[3:] == [AGENTS, CURSOR]  # CLAUDE.md imports already
    assert repo.files.files[AGENTS].startswith("# My project\nUse tabs.\n\n")


async def test_a_missing_component_or_a_broken_block_fails_the_delivery_and_says_where() -> None:
    repo = Repo(MemoryFiles({AGENTS: "<!-- gepad:begin x -->\nhalf"}))
    adapter = repo.adapter()
    with pytest.raises(EditorFileError, match=r"no component 'system' \(it has: style\)"):
        await adapter.deliver(Delivery("repo", "alice", "editor", "c1", 1, {"style": "x"},
                                       False, 0.0))
    with pytest.raises(EditorFileError, match=r"^AGENTS.md: gepad's block has a begin marker "
                       r"without an end marker"):
        await adapter.deliver(delivery(1, "Be brief."))
    # The other files were written all the same; the broken one was left as it was.
    assert repo.files.files[AGENTS] == "<!-- gepad:begin x -->\nhalf"
    assert sorted(repo.files.writes) == sorted([CLAUDE, CURSOR])


async def test_claude_md_linked_to_agents_md_is_left_alone() -> None:
    repo = Repo()
    repo.files.links[CLAUDE] = AGENTS
    await repo.adapter().deliver(delivery(1, "Be brief."))
    assert "@AGENTS.md" not in repo.files.files[AGENTS]
    assert CLAUDE not in repo.files.files


async def test_a_persons_edit_of_the_block_is_reported_once_with_the_other_components() -> None:
    repo = Repo()
    adapter = repo.adapter()
    served = delivery(1, "Be brief.", style="plain")
    await adapter.deliver(served)
    channel = Channel(served)
    async with repo.watching(adapter, channel):
        repo.edit_block("Be brief. Never use emojis.")
        await repo.changed(AGENTS)
        await repo.changed(AGENTS)  # saved again, unchanged: the same edit is not sent twice
    assert channel.edits == [({"system": "Be brief. Never use emojis.", "style": "plain"},
                              "AGENTS.md")]


async def test_gepads_own_writes_and_changes_outside_the_block_are_no_edits() -> None:
    repo = Repo(MemoryFiles({AGENTS: "# Notes\n"}))
    adapter = repo.adapter()
    await adapter.deliver(delivery(1, "Be brief."))
    channel = Channel(delivery(1, "Be brief."))
    async with repo.watching(adapter, channel):
        await repo.changed(AGENTS, CLAUDE, CURSOR)
        await adapter.deliver(delivery(2, "Be briefer."))
        channel.state = delivery(2, "Be briefer.")
        await repo.changed(AGENTS, CURSOR)
        repo.files.files[AGENTS] = repo.files.files[AGENTS].replace("# Notes", "# More notes")
        await repo.changed(AGENTS)
    assert (channel.edits, channel.notes) == ([], [])


async def test_a_half_written_block_is_not_read() -> None:
    repo = Repo()
    adapter = repo.adapter()
    await adapter.deliver(delivery(1, "Be brief."))
    channel = Channel(delivery(1, "Be brief."))
    async with repo.watching(adapter, channel):
        repo.files.files[AGENTS] = repo.files.files[AGENTS].replace(END, "")
        await repo.changed(AGENTS)
        repo.files.files[CURSOR] = "---\ndescription: half a rule\nBe briefer."
        await repo.changed(CURSOR)
    assert channel.edits == []
    assert channel.notes == [
        ("AGENTS.md", "gepad's block has no end marker (a save in progress?); not adopted"),
        (".cursor/rules/gepad.mdc", "its front matter never ends (a save in progress?); not "
                                    "adopted"),
    ]


async def test_a_file_that_changes_again_while_settling_is_read_once_it_is_still() -> None:
    repo = Repo()
    adapter = repo.adapter()
    await adapter.deliver(delivery(1, "Be brief."))
    channel = Channel(delivery(1, "Be brief."))
    async with repo.watching(adapter, channel):
        waits = repo.settling.waits
        repo.edit_block("Be b")  # the editor's first, partial write ...
        repo.settling.hooks.append(lambda: repo.edit_block("Be brief and kind."))  # ... its last
        await repo.changed(AGENTS)
    assert channel.edits == [({"system": "Be brief and kind."}, "AGENTS.md")]
    assert repo.settling.waits - waits == 2  # read, changed; read again, still


async def test_a_delivery_does_not_overwrite_an_edit_not_read_yet() -> None:
    repo = Repo()
    adapter = repo.adapter()
    await adapter.deliver(delivery(1, "Be brief."))
    repo.edit_block("My own words.")
    with pytest.raises(EditorFileError, match=r"AGENTS\.md: holds an edit gepad has not read yet"):
        await adapter.deliver(delivery(2, "A promoted prompt."))
    assert "My own words." in repo.files.files[AGENTS]
    assert "A promoted prompt." in repo.files.files[CURSOR]
    channel = Channel(delivery(2, "A promoted prompt."))
    async with repo.watching(adapter, channel):
        await repo.changed(AGENTS)
    assert channel.edits == [({"system": "My own words."}, "AGENTS.md")]


async def test_an_edit_made_while_gepad_was_down_is_read_at_start_once_up_to_date() -> None:
    repo = Repo()
    await repo.adapter().deliver(delivery(1, "Be brief."))
    repo.edit_block("Edited offline.")
    pending = Channel(delivery(2, "Newer."), confirmed=False)
    async with repo.watching(repo.adapter(), pending):
        pass
    assert pending.edits == []  # the file may hold the older version: no edit to tell
    current = Channel(delivery(1, "Be brief."))
    async with repo.watching(repo.adapter(), current):
        pass
    assert current.edits == [({"system": "Edited offline."}, "AGENTS.md")]
    assert sorted(repo.changes.directories) == [ROOT, ROOT / ".cursor/rules"]


class EditedWhileStarting(MemoryChanges):
    """A person saves while the watcher is starting: no change is ever reported for it."""

    def __init__(self, edit: Callable[[], None]) -> None:
        super().__init__()
        self._edit = edit

    async def watch(self, directories: Sequence[Path], stop: anyio.Event, on_change: OnChange,
                    on_ready: OnReady) -> None:
        self._edit()
        await super().watch(directories, stop, on_change, on_ready)


async def test_an_edit_made_while_the_watch_starts_is_read_once_it_watches() -> None:
    repo = Repo()
    await repo.adapter().deliver(delivery(1, "Be brief."))
    repo.changes = EditedWhileStarting(lambda: repo.edit_block("Edited during start."))
    channel = Channel(delivery(1, "Be brief."))
    async with repo.watching(repo.adapter(), channel):
        pass
    assert channel.edits == [({"system": "Edited during start."}, "AGENTS.md")]


@pytest.mark.parametrize(("options", "message"), [
    ({"files": ["agents", "vim"]}, r"^adapters\[0\]\.files: unknown file 'vim'; choose from"),
    ({"files": ["claude"]}, r"^adapters\[0\]\.files: 'claude' reads AGENTS.md"),
    ({"files": ["aider", "cursor"]}, r"^adapters\[0\]\.files: 'aider' reads AGENTS.md"),
    ({"root": "relative/repo"}, r"^adapters\[0\]\.root: expected an absolute path"),
    ({"settle_seconds": -1}, r"^adapters\[0\]\.settle_seconds: expected a positive number"),
])
def test_a_table_the_editor_cannot_use_is_refused_naming_the_key(
    options: dict[str, Any], message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        EditorAdapter(setup(**options), files=MemoryFiles(), changes=MemoryChanges())


def test_the_editor_needs_a_user_and_an_existing_repository(tmp_path: Path) -> None:
    anyone = AdapterSetup(index=2, name="repo", plugin="editor", user_id=None, program="editor",
                          options={"root": str(tmp_path)}, env={})
    with pytest.raises(ConfigError, match=r"^adapters\[2\]\.user: is required"):
        EditorAdapter(anyone)
    missing = AdapterSetup(index=2, name="repo", plugin="editor", user_id="alice",
                           program="editor", options={"root": str(tmp_path / "nope")}, env={})
    with pytest.raises(ConfigError, match=r"^adapters\[2\]\.root: .*nope is not a directory$"):
        EditorAdapter(missing)
    off = AdapterSetup(index=2, name="repo", plugin="editor", user_id="alice", program="editor",
                       options={"root": str(tmp_path), "watch_edits": False}, env={})
    assert EditorAdapter(off).watches_edits is False
