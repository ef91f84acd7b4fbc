"""The config file changed under the running daemon: what applies at once, what is refused."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gepad.client import Client
from gepad.settings import load_settings
from gepad.v1 import gepad_pb2 as pb
from tests.conftest import DaemonThread

PROGRAM = "editor.system"
T = TypeVar("T")


def wait_until(what: str, check: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def command_target(name: str, log: Path) -> dict[str, Any]:
    # Appends each document it is given to a file, one JSON line each.
    code = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read() + '\\n')"
    return {"plugin": "command", "name": name, "user": "alice", "program": PROGRAM,
            "command": [sys.executable, "-c", code, str(log)]}


def versions(log: Path) -> list[int]:
    if not log.exists():
        return []
    return [json.loads(line)["version"] for line in log.read_text().splitlines() if line]


class ConfigFile:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "gepad.toml"

    def write(self, *targets: dict[str, Any], top: str = "") -> None:
        lines = [f"state_dir = {json.dumps(str(self.root / 'state'))}",
                 f"runtime_dir = {json.dumps(str(self.root / 'run'))}",
                 "evolve_debounce_seconds = 30", top]
        for table in targets:
            lines.append("[[adapters]]")
            lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
        partial = self.path.with_suffix(".partial")
        partial.write_text("\n".join(lines) + "\n")
        # Saved as editors do: a new file renamed over the old one.
        partial.rename(self.path)


@pytest.fixture
def config(daemon_root: Path) -> ConfigFile:
    return ConfigFile(daemon_root)


@pytest.fixture
def daemon(config: ConfigFile) -> Iterator[str]:
    config.write(command_target("first", config.root / "first.jsonl"))
    settings = load_settings(config.path, env={})
    thread = DaemonThread(settings)
    thread.wait_ready()
    target = f"unix://{settings.socket_path}"
    with Client(target) as client:
        client.upsert_program(pb.Program(name=PROGRAM, seed_components={"system": "Be brief."}))
    wait_until("the seed at the first target", lambda: versions(config.root / "first.jsonl"))
    try:
        yield target
    finally:
        thread.stop()


def edit(target: str, text: str, event_id: str) -> None:
    with Client(target) as client:
        client.record_feedback(user_id="alice", program=PROGRAM, kind="prompt_edit",
                               edited_components={"system": text}, event_id=event_id)


def reloads(caplog: pytest.LogCaptureFixture, fragment: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "gepad.config" and fragment in r.getMessage()]


def test_an_added_target_starts_receiving_and_a_removed_one_stops(
    daemon: str, config: ConfigFile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gepad.config")
    first, second = config.root / "first.jsonl", config.root / "second.jsonl"
    config.write(command_target("first", first), command_target("second", second))
    # A new target gets what alice is served now (the seed, version 0) as at a restart.
    assert wait_until("the seed at the added target", lambda: versions(second)) == [0]
    edit(daemon, "Be brief. No emojis.", "e1")
    wait_until("version 1 at both", lambda: 1 in versions(first) and 1 in versions(second))
    # The unchanged target went on as it was: nothing delivered twice.
    assert versions(first) == [0, 1]

    config.write(command_target("second", second))
    wait_until("the reload", lambda: reloads(caplog, "adapter targets now second"))
    edit(daemon, "Be brief. No emojis. Cite files.", "e2")
    wait_until("version 2 at the kept target", lambda: 2 in versions(second))
    assert versions(first) == [0, 1]


@pytest.mark.parametrize(
    ("top", "table", "named"),
    [
        ("nightly_corn = '0 4 * * *'", {}, "nightly_corn: unknown setting"),
        ("nightly_cron = 'every night'", {}, "nightly_cron:"),
        ("", {"retyr_max_seconds": 5}, "adapters[1].retyr_max_seconds"),
    ],
)
def test_a_bad_config_is_refused_and_the_old_one_stays(
    daemon: str, config: ConfigFile, caplog: pytest.LogCaptureFixture,
    top: str, table: dict[str, Any], named: str,
) -> None:
    caplog.set_level(logging.INFO, logger="gepad.config")
    first, second = config.root / "first.jsonl", config.root / "second.jsonl"
    bad = {**command_target("second", second), **table}
    config.write(command_target("first", first), bad, top=top)
    # One save may reach the watch as more than one change: each reload refuses it the same way.
    lines = wait_until("the refusal", lambda: reloads(caplog, "stays in force"))
    assert all(named in line for line in lines)
    edit(daemon, "Be brief. No emojis.", "e1")
    wait_until("version 1 at the old target", lambda: 1 in versions(first))
    assert versions(second) == []


def test_a_setting_read_at_start_waits_for_a_restart(
    daemon: str, config: ConfigFile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gepad.config")
    config.write(command_target("first", config.root / "first.jsonl"),
                 top="max_message_bytes = 1000000\nmax_concurrent_rounds = 3\n"
                     "[evaluators]\nmin_labels = 20")
    lines = wait_until("the reload", lambda: reloads(caplog, "next restart"))
    assert all("max_message_bytes, evaluators changed" in line for line in lines)
    assert reloads(caplog, "reloaded")
