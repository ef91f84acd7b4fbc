"""The [[adapters]] tables: every mistake is refused with the key that holds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gepad.adapters import AdapterSetup, parse_targets
from gepad.settings import ConfigError


def refused(tables: Any, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_targets(tables, env or {})
    return str(caught.value)


def test_a_table_names_its_plugin_program_and_optionally_its_user_and_name() -> None:
    first, second = parse_targets([
        {"plugin": "webhook", "program": "bot", "url": "http://x"},
        {"plugin": "editor", "name": "my-repo", "user": "alice", "program": "bot",
         "timeout_seconds": 5, "retry_initial_seconds": 0.5, "retry_max_seconds": 60},
    ], {})
    assert (first.setup.name, first.setup.user_id, first.timeout_seconds) == ("webhook", None,
                                                                              30.0)
    assert (second.setup.name, second.setup.plugin, second.setup.user_id,
            second.setup.program) == ("my-repo", "editor", "alice", "bot")
    assert (second.timeout_seconds, second.retry_initial_seconds,
            second.retry_max_seconds) == (5.0, 0.5, 60.0)
    # The plugin's own options are the rest of the table.
    assert first.setup.unread() == ["url"] and second.setup.unread() == []


@pytest.mark.parametrize(("tables", "message"), [
    ({"plugin": "x"}, "adapters: expected an array of tables ([[adapters]])"),
    (["editor"], "adapters[0]: expected a table ([[adapters]])"),
    ([{"program": "bot"}], "adapters[0].plugin: is required"),
    ([{"plugin": "", "program": "bot"}], "adapters[0].plugin: expected a non-empty string"),
    ([{"plugin": "editor"}], "adapters[0].program: is required"),
    ([{"plugin": "editor", "program": "no spaces"}], "adapters[0].program: must be 1..128"),
    ([{"plugin": "editor", "program": "bot", "user": "a b"}], "adapters[0].user: must be 1..128"),
    ([{"plugin": "editor", "program": "bot", "name": "../x"}], "adapters[0].name: expected 1..64"),
    ([{"plugin": "editor", "program": "bot", "timeout_seconds": 0}],
     "adapters[0].timeout_seconds: expected a positive number, got 0"),
    ([{"plugin": "editor", "program": "bot", "retry_max_seconds": True}],
     "adapters[0].retry_max_seconds: expected a positive number, got True"),
    ([{"plugin": "webhook", "program": "bot"}, {"plugin": "webhook", "program": "other"}],
     "adapters[1].name: 'webhook' is taken by adapters[0]; give each target its own name"),
])
def test_a_mistake_is_refused_naming_its_key(tables: Any, message: str) -> None:
    assert refused(tables).startswith(message)


def setup(env: dict[str, str] | None = None, **options: Any) -> AdapterSetup:
    return AdapterSetup(index=3, name="t", plugin="p", user_id=None, program="bot",
                        options=options, env=env or {})


def test_option_getters_check_types_and_name_the_key(tmp_path: Path) -> None:
    s = setup(url="http://x", tries=3, on=True, files=["a", "b"], root=str(tmp_path))
    assert (s.text("url"), s.number("tries", 1), s.flag("on", False), s.texts("files"),
            s.path("root")) == ("http://x", 3.0, True, ("a", "b"), tmp_path)
    assert (s.text("missing", "d"), s.number("n", 2.5), s.texts("none", ("x",))) == (
        "d", 2.5, ("x",))
    with pytest.raises(ConfigError, match=r"^adapters\[3\]\.url2: is required \(a string\)$"):
        s.text("url2")
    with pytest.raises(ConfigError, match=r"^adapters\[3\]\.tries: expected true or false, "
                       r"got 3$"):
        setup(tries=3).flag("tries", False)
    with pytest.raises(ConfigError, match=r"^adapters\[3\]\.on: expected a positive number, "
                       r"got True$"):
        setup(on=True).number("on", 1)
    with pytest.raises(ConfigError, match=r"^adapters\[3\]\.files: expected an array of "
                       r"non-empty strings"):
        setup(files=["a", 1]).texts("files")
    with pytest.raises(ConfigError, match=r"^adapters\[3\]\.root: expected an absolute path"):
        setup(root="repo").path("root")
    assert setup(root="~/repo").path("root") == Path.home() / "repo"


def test_a_secret_comes_from_the_environment_or_a_systemd_credential(tmp_path: Path) -> None:
    assert setup({"HOOK_SECRET": "s3cret"}, secret_env="HOOK_SECRET").secret("secret") == (
        b"s3cret")
    (tmp_path / "hook").write_text("from-a-file\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert setup(env, secret_credential="hook").secret("secret") == b"from-a-file"


@pytest.mark.parametrize(("env", "options", "message"), [
    ({}, {"secret": "in-the-config"},
     "adapters[3].secret: secrets are never read from the config file"),
    ({}, {}, "adapters[3].secret_env: set exactly one of secret_env or secret_credential"),
    ({"A": "x"}, {"secret_env": "A", "secret_credential": "b"},
     "adapters[3].secret_env: set exactly one of"),
    ({}, {"secret_env": "NOT_SET"},
     "adapters[3].secret_env: the environment variable NOT_SET is not set"),
    ({}, {"secret_credential": "hook"},
     "adapters[3].secret_credential: $CREDENTIALS_DIRECTORY is not set"),
    ({"CREDENTIALS_DIRECTORY": "/nonexistent"}, {"secret_credential": "../etc/passwd"},
     "adapters[3].secret_credential: expected a credential's name"),
    ({"CREDENTIALS_DIRECTORY": "/nonexistent"}, {"secret_credential": "hook"},
     "adapters[3].secret_credential: cannot read it"),
])
def test_a_secret_that_cannot_be_had_is_refused_naming_the_key(
    env: dict[str, str], options: dict[str, Any], message: str,
) -> None:
    with pytest.raises(ConfigError) as caught:
        setup(env, **options).secret("secret")
    assert str(caught.value).startswith(message)
