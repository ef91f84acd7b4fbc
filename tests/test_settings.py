from __future__ import annotations

from pathlib import Path

import pytest

from gepad.settings import ConfigError, hash_token, load_settings


def test_defaults_follow_systemd_then_xdg(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg"), "XDG_STATE_HOME": str(tmp_path / "st"),
           "XDG_RUNTIME_DIR": str(tmp_path / "rt")}
    s = load_settings(env=env)
    assert s.database_path == tmp_path / "st" / "gepad" / "gepad.sqlite3"
    assert s.socket_path == tmp_path / "rt" / "gepad" / "gepad.sock"
    assert s.tcp_address is None
    s = load_settings(env={**env, "STATE_DIRECTORY": "/var/lib/gepad",
                           "RUNTIME_DIRECTORY": "/run/gepad"})
    assert s.state_dir == Path("/var/lib/gepad")
    assert s.socket_path == Path("/run/gepad/gepad.sock")


def test_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "gepad.toml"
    path.write_text(
        'tcp = "127.0.0.1:7000"\ngrace_seconds = 2\n'
        f'[[tokens]]\nsha256 = "{hash_token("t-alice")}"\nuser = "alice"\n'
    )
    s = load_settings(path, env={"GEPAD_ADMIN_TOKEN": "root-token"})
    assert s.tcp_address == "127.0.0.1:7000" and s.grace_seconds == 2.0
    alice, admin = s.grant_for("t-alice"), s.grant_for("root-token")
    assert alice is not None and alice.user == "alice" and not alice.is_admin
    assert admin is not None and admin.is_admin
    assert s.grant_for("guess") is None
    assert load_settings(path, env={"GEPAD_TCP": "127.0.0.2:9"}).tcp_address == "127.0.0.2:9"
    assert s.ingest_max_bytes == 64 * 1024 * 1024
    path.write_text("ingest_max_bytes = 8388608\n")
    assert load_settings(path, env={}).ingest_max_bytes == 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('tcp = "127.0.0.1:7000"\n', "no token is configured"),
        ("grace_seconds = -1\n", "grace_seconds"),
        ('[[tokens]]\nsha256 = "abc"\nuser = "u"\n', "tokens[0].sha256"),
        (f'[[tokens]]\nsha256 = "{"a" * 64}"\n', "exactly one of"),
        ("this is = = not toml", "not valid TOML"),
        ('adapters = "editor"\n', "adapters: expected an array of tables"),
        ('adapters = [1]\n', "adapters[0]: expected a table"),
        ("nightly_corn = '0 3 * * *'\n", "nightly_corn: unknown setting"),
        ("[evaluators]\ncalibrate = 'no'\n", "evaluators.calibrate: expected true or false"),
        ("[evaluators]\ngating_mcc = 1.5\n", "evaluators.gating_mcc: expected a number"),
        ("[evaluators]\nadvisory_mcc = 0.7\n", "is above gating_mcc"),
        ("[evaluators]\nmin_labels = 0\n", "min_labels"),
        ("[evaluators]\ngate_mcc = 0.5\n", "evaluators.gate_mcc: unknown key"),
        ("ingest_max_bytes = 1000\n", "ingest_max_bytes .1000. must be at least max_message_bytes"),
    ],
)
def test_bad_config_is_explained(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "gepad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        load_settings(path, env={})


def test_adapter_tables_are_kept_for_their_plugins_to_read(tmp_path: Path) -> None:
    path = tmp_path / "gepad.toml"
    path.write_text('[[adapters]]\nplugin = "webhook"\nprogram = "bot"\nurl = "https://x"\n'
                    '[[adapters]]\nplugin = "editor"\nuser = "alice"\nprogram = "bot"\n')
    s = load_settings(path, env={})
    assert s.adapters == (
        {"plugin": "webhook", "program": "bot", "url": "https://x"},
        {"plugin": "editor", "user": "alice", "program": "bot"},
    )


def test_the_evaluators_table_sets_the_calibration_policy(tmp_path: Path) -> None:
    from gepad.rounds.calibration_step import calibration_policy

    assert calibration_policy(load_settings(env={"STATE_DIRECTORY": str(tmp_path)}).evaluators
                              ).enabled
    path = tmp_path / "gepad.toml"
    path.write_text("[evaluators]\ncalibrate = false\ngenerate_after = 20\nmin_labels = 30\n"
                    "gating_mcc = 0.7\nadvisory_mcc = 0.5\n")
    policy = calibration_policy(load_settings(path, env={}).evaluators)
    assert not policy.enabled
    assert policy.generate_after == 20
    assert (policy.thresholds.min_n, policy.thresholds.gating, policy.thresholds.advisory) == (
        30, 0.7, 0.5)


def test_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", env={})


def test_hooks_table_and_its_environment(tmp_path: Path) -> None:
    path = tmp_path / "gepad.toml"
    path.write_text('[hooks]\nuser = "alice"\nprogram = "editor.system"\ntimeout_seconds = 1.5\n')
    s = load_settings(path, env={})
    assert (s.hooks.user, s.hooks.program, s.hooks.timeout_seconds) == (
        "alice", "editor.system", 1.5)
    s = load_settings(path, env={"GEPAD_USER": "bob", "GEPAD_PROGRAM": "support-bot"})
    assert (s.hooks.user, s.hooks.program) == ("bob", "support-bot")
    assert load_settings(env={"XDG_CONFIG_HOME": str(tmp_path / "none")}).hooks.user is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[hooks]\nusr = 'alice'\n", "hooks.usr: unknown key"),
        ("[hooks]\nuser = 3\n", "hooks.user: expected a non-empty string"),
        ("hooks = 1\n", "hooks: expected a table"),
    ],
)
def test_bad_hooks_table_is_explained(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "gepad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_settings(path, env={})
