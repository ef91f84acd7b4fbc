"""pyproject.toml lists gepad's packages by hand (the adapters/ folder maps to gepad_adapters,
which rules out packages.find): the list must name every package, or an install lacks it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_package_of_gepad_is_listed_and_adapters_install_as_gepad_adapters() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(init.parent.relative_to(ROOT).parts)
               for init in (ROOT / "gepad").rglob("__init__.py")}
    assert set(config["packages"]) == on_disk | {"gepad_adapters"}
    assert config["package-dir"] == {"gepad_adapters": "adapters"}
    assert (ROOT / "adapters" / "__init__.py").exists()
