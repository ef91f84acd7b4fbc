"""README.md's module map ("How it works") names every part of gepad/, and only parts that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def mapped_paths() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| part | where |", 1)[1].split("\n\n", 1)[0]
    return [p for row in table.splitlines() for p in re.findall(r"`([^`]+/[^`]*)`", row)]


def test_every_path_in_the_module_map_exists() -> None:
    missing = [p for p in mapped_paths() if not (ROOT / p).exists()]
    assert missing == []


def test_every_part_of_gepad_is_in_the_module_map() -> None:
    mapped = {p.rstrip("/") for p in mapped_paths()}
    parts = {f"gepad/{p.name}" for p in (ROOT / "gepad").iterdir()
             if p.name not in {"__init__.py", "__main__.py", "__pycache__"}}
    covered = {part for part in parts
               if any(m == part or m.startswith(part + "/") for m in mapped)}
    assert parts - covered == set()
