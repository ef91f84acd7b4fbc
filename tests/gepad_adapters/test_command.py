"""The command adapter running real processes: the prompt's JSON on stdin, no shell, a non-zero
exit or a run past its time limit reported as a failure."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from gepad.adapters import AdapterSetup, Delivery
from gepad.settings import ConfigError
from gepad_adapters.command import CommandAdapter, CommandError
from gepad_adapters.processes import Finished, MemoryProcesses

pytestmark = pytest.mark.anyio

DELIVERY = Delivery("reload", "alice", "bot", "c2", 2, {"system": "Be kind."}, False, 7.0)


def setup(command: object, **options: Any) -> AdapterSetup:
    return AdapterSetup(index=0, name="reload", plugin="command", user_id=None, program="bot",
                        options={"command": command, **options}, env={})


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


async def test_the_command_gets_the_prompt_on_stdin_and_its_environment(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    code = ("import json, os, sys; doc = json.load(sys.stdin); doc['env'] = "
            "[os.environ[k] for k in ('GEPAD_USER', 'GEPAD_PROGRAM', 'GEPAD_VERSION', "
            "'GEPAD_IDEMPOTENCY_KEY')]; doc['cwd'] = os.getcwd(); "
            "open(sys.argv[1], 'w').write(json.dumps(doc))")
    # An argument with spaces and a ';' stays one argument: no shell parses it.
    adapter = CommandAdapter(setup(python(code, str(out)), cwd=str(tmp_path)), env={})
    await adapter.deliver(DELIVERY)
    got = json.loads(out.read_text())
    assert got["components"] == {"system": "Be kind."} and got["idempotency_key"] == "c2:2"
    assert got["env"] == ["alice", "bot", "2", "c2:2"]
    assert Path(got["cwd"]) == tmp_path


async def test_a_failing_command_reports_its_status_and_what_it_said() -> None:
    adapter = CommandAdapter(setup(python("import sys; sys.stderr.write('no bot here'); "
                                          "sys.exit(3)")))
    with pytest.raises(CommandError, match=r"exited with status 3: no bot here$"):
        await adapter.deliver(DELIVERY)


async def test_a_command_past_its_time_limit_is_killed_and_reported(tmp_path: Path) -> None:
    adapter = CommandAdapter(setup(python("import time; time.sleep(60)"),
                                   run_timeout_seconds=0.2))
    with pytest.raises(CommandError, match=r"ran longer than 0.2s and was killed$"):
        await adapter.deliver(DELIVERY)


async def test_a_program_that_does_not_exist_is_reported() -> None:
    adapter = CommandAdapter(setup(["/nonexistent/reload-prompt"]))
    with pytest.raises(CommandError, match=r"^cannot run /nonexistent/reload-prompt: "):
        await adapter.deliver(DELIVERY)


async def test_the_process_seam_sees_argv_stdin_and_environment() -> None:
    processes = MemoryProcesses([Finished(0)])
    adapter = CommandAdapter(setup(["reload", "--now"]), processes=processes, env={"HOME": "/h"})
    await adapter.deliver(DELIVERY)
    ((argv, stdin, env),) = processes.runs
    assert argv == ["reload", "--now"] and json.loads(stdin)["version"] == 2
    assert env["HOME"] == "/h" and env["GEPAD_VERSION"] == "2"


@pytest.mark.parametrize(("command", "message"), [
    ("reload --now", r"^adapters\[0\]\.command: expected an array of strings, got 'reload "
                     r"--now' \(.*no shell runs it\)$"),
    ([], r"^adapters\[0\]\.command: is empty$"),
    (["reload", ""], r"^adapters\[0\]\.command: expected an array of non-empty strings"),
])
def test_a_command_that_is_not_an_argument_list_is_refused(command: object,
                                                            message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CommandAdapter(setup(command))
