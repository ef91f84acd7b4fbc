"""README's "Writing an adapter" example, installed as its own distribution (the module and the
entry point exactly as README shows them) and run by gepad: the guide works as written."""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from gepad.adapters import Delivery, load_targets, parse_targets

README = Path(__file__).parents[2] / "README.md"


def section() -> str:
    text = README.read_text()
    return text[text.index("### Writing an adapter"):text.index("## Running under systemd")]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.S)


@pytest.fixture
def installed_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    (module,) = blocks("python")
    project_toml, config_toml = blocks("toml")
    project = tomllib.loads(project_toml)["project"]
    (tmp_path / "gepad_textfile.py").write_text(module)
    info = tmp_path / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                   f"Version: {project['version']}\n")
    lines = [f'{name} = {value}' for name, value
             in project["entry-points"]["gepad.adapters"].items()]
    (info / "entry_points.txt").write_text("[gepad.adapters]\n" + "\n".join(lines) + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tomllib.loads(config_toml)["adapters"][0]
    sys.modules.pop("gepad_textfile", None)


def test_the_readme_example_adapter_is_found_and_delivers(installed_example: dict[str, str],
                                                          tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    table = dict(installed_example, directory=str(prompts))
    (target,) = load_targets(parse_targets([table], {}))
    delivery = Delivery(target.name, "alice", table["program"], "c1", 1,
                        {"system": "Be kind."}, False, 0.0)
    anyio.run(target.adapter.deliver, delivery)
    assert (prompts / "alice.txt").read_text() == "Be kind."
    assert sorted(p.name for p in prompts.iterdir()) == ["alice.txt"]
