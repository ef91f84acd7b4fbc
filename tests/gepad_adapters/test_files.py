"""DiskFiles: whole-file replacement through a temporary file and a rename, the mode kept, a link
followed, a concurrent save never overwritten, bytes that are not UTF-8 kept as they were."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gepad_adapters.files import NEW_FILE_MODE, DiskFiles, FileChangedError

pytestmark = pytest.mark.anyio


async def test_a_write_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "AGENTS.md"
    path.write_text("old\n")
    path.chmod(0o640)
    inode = path.stat().st_ino
    files = DiskFiles()
    await files.write(path, "new\n", expect="old\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # a new file renamed over the old one, not rewritten
    assert os.listdir(tmp_path) == ["AGENTS.md"]


async def test_a_new_file_gets_its_directories_and_the_usual_mode(tmp_path: Path) -> None:
    path = tmp_path / ".cursor" / "rules" / "gepad.mdc"
    files = DiskFiles()
    assert await files.read(path) is None
    await files.write(path, "rule\n", expect=None)
    assert path.read_text() == "rule\n"
    assert stat.S_IMODE(path.stat().st_mode) == NEW_FILE_MODE


async def test_a_file_saved_by_someone_else_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "AGENTS.md"
    path.write_text("the person's save\n")
    with pytest.raises(FileChangedError):
        await DiskFiles().write(path, "gepad's\n", expect="what gepad read\n")
    assert path.read_text() == "the person's save\n"
    assert os.listdir(tmp_path) == ["AGENTS.md"]


async def test_a_symlink_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "docs" / "AGENTS.md"
    real.parent.mkdir()
    real.write_text("old\n")
    link = tmp_path / "AGENTS.md"
    link.symlink_to(real)
    files = DiskFiles()
    await files.write(link, "new\n", expect="old\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert files.resolve(link) == real.resolve()


async def test_bytes_that_are_not_utf8_come_back_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "AGENTS.md"
    path.write_bytes(b"caf\xe9 latin-1\r\n")
    files = DiskFiles()
    text = await files.read(path)
    assert text is not None
    await files.write(path, text + "more\n", expect=text)
    assert path.read_bytes() == b"caf\xe9 latin-1\r\nmore\n"
    assert os.listdir(tmp_path) == ["AGENTS.md"]
