"""Plugins found through real entry points: a distribution the test installs onto sys.path (a
dist-info directory importlib.metadata reads like any other), loaded only when configured."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from textwrap import dedent

import pytest

from gepad.adapters import GROUP, load_targets, parse_targets
from gepad.adapters.registry import installed
from gepad.settings import ConfigError

PLUGINS = {
    "gepad_test_recorder": """
        class Recorder:
            api_version = 1

            def __init__(self, setup):
                self.colour = setup.text("colour", "blue")
                self.delivered = []

            async def deliver(self, delivery):
                self.delivered.append(delivery)
        """,
    # Importing it would fail the test that names another plugin: it must never be imported.
    "gepad_test_unlisted": """
        raise RuntimeError("an unlisted plugin was imported")
        """,
    "gepad_test_future": """
        class Plugin:
            api_version = 2

            def __init__(self, setup):
                pass

            async def deliver(self, delivery):
                pass
        """,
    "gepad_test_nothing": """
        class Plugin:
            api_version = 1

            def __init__(self, setup):
                pass
        """,
}
ENTRY_POINTS = """
    [gepad.adapters]
    recorder = gepad_test_recorder:Recorder
    unlisted = gepad_test_unlisted:Plugin
    future = gepad_test_future:Plugin
    nothing = gepad_test_nothing:Plugin

    [some.other.group]
    recorder = gepad_test_unlisted:Plugin
    """


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for module, source in PLUGINS.items():
        (tmp_path / f"{module}.py").write_text(dedent(source))
    info = tmp_path / "gepad_test_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gepad-test-plugins\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text(dedent(ENTRY_POINTS))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    for module in PLUGINS:
        sys.modules.pop(module, None)


def table(plugin: str, **options: object) -> dict[str, object]:
    return {"plugin": plugin, "program": "bot", **options}


def test_a_configured_plugin_is_found_through_its_entry_point_and_built(plugins: Path) -> None:
    (loaded,) = load_targets(parse_targets([table("recorder", colour="green")], {}))
    assert type(loaded.adapter).__module__ == "gepad_test_recorder"
    assert loaded.adapter.colour == "green"  # type: ignore[attr-defined]
    assert loaded.name == "recorder" and loaded.edit_watch is None
    assert any(ep.value == "gepad_test_recorder:Recorder" for ep in installed())


def test_a_plugin_nobody_configured_is_never_imported(plugins: Path) -> None:
    load_targets(parse_targets([table("recorder")], {}))
    assert "gepad_test_recorder" in sys.modules
    assert "gepad_test_unlisted" not in sys.modules
    assert "gepad_test_future" not in sys.modules


def test_no_adapters_configured_reads_no_entry_point_at_all() -> None:
    def entry_points() -> list[metadata.EntryPoint]:
        raise AssertionError("entry points were read")

    assert load_targets([], entry_points) == []


def test_a_plugin_that_is_not_installed_is_named_with_those_that_are(plugins: Path) -> None:
    with pytest.raises(ConfigError, match=r"^adapters\[1\]\.plugin: no adapter plugin 'recordr' "
                       r"is installed \(entry-point group gepad\.adapters; installed: .*"
                       r"recorder.*\)$"):
        load_targets(parse_targets([table("recorder"), table("recordr", name="two")], {}))


def test_a_plugin_of_another_api_version_is_refused(plugins: Path) -> None:
    with pytest.raises(ConfigError, match=r"^adapters\[0\]\.plugin: plugin 'future' "
                       r"\(gepad_test_future:Plugin\) speaks adapter API version 2; this gepad "
                       r"speaks 1$"):
        load_targets(parse_targets([table("future")], {}))


def test_a_plugin_that_cannot_be_imported_or_delivers_nothing_is_refused(plugins: Path) -> None:
    with pytest.raises(ConfigError, match=r"^adapters\[0\]\.plugin: cannot import plugin "
                       r"'unlisted' .*RuntimeError: an unlisted plugin was imported$"):
        load_targets(parse_targets([table("unlisted")], {}))
    with pytest.raises(ConfigError, match=r"^adapters\[0\]\.plugin: plugin 'nothing' .* made no "
                       r"delivery target"):
        load_targets(parse_targets([table("nothing")], {}))


def test_an_option_the_plugin_does_not_read_is_refused_by_name(plugins: Path) -> None:
    with pytest.raises(ConfigError, match=r"^adapters\[0\]\.color: the 'recorder' plugin has no "
                       r"such option$"):
        load_targets(parse_targets([table("recorder", color="green")], {}))
    with pytest.raises(ConfigError, match=r"^adapters\[0\]\.colour: expected a string, got 3$"):
        load_targets(parse_targets([table("recorder", colour=3)], {}))


def test_the_built_in_adapters_register_through_the_same_entry_points() -> None:
    ours = {ep.name: ep.value for ep in metadata.entry_points(group=GROUP)
            if ep.dist is not None and ep.dist.name == "gepad"}
    assert ours == {"editor": "gepad_adapters.editor:EditorAdapter",
                    "webhook": "gepad_adapters.webhook:WebhookAdapter",
                    "command": "gepad_adapters.command:CommandAdapter",
                    "dspy": "gepad_adapters.dspy:plugin"}
