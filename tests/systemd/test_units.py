"""The systemd units: systemd-analyze finds nothing to say about them, they carry the contract
(Type=notify, watchdog, dynamic user, XDG/systemd directories, the hardening set), and the daemon
really runs under MemoryDenyWriteExecute."""

from __future__ import annotations

import ctypes
import mmap
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pb_grpc
from tests.conftest import ADMIN_TOKEN
from tests.systemd.conftest import SpawnDaemon

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "verify-units.sh"
SYSTEM_UNIT = ROOT / "systemd" / "gepad.service"
USER_UNIT = ROOT / "systemd" / "gepad-user.service"


def _require_systemd_analyze() -> None:
    # CI machines are the same kind as development ones and have systemd installed; a missing
    # systemd-analyze means the units went unchecked, which must not pass silently.
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is not on PATH: install systemd (apt-get install systemd) "
                    "so that the units in systemd/ can be verified")


def _directives(path: Path) -> dict[str, list[str]]:
    """Key -> every value it is given (systemd keys may repeat), comments dropped."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def _run_script(*units: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *map(str, units)], capture_output=True,
                          text=True, timeout=120, check=False, cwd=ROOT)


def test_systemd_analyze_verify_prints_nothing() -> None:
    _require_systemd_analyze()
    result = _run_script()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "", result.stderr
    assert result.stdout.splitlines() == [
        "verify-units: systemd/gepad.service (system): OK",
        "verify-units: systemd/gepad-user.service (user): OK",
    ]


def test_verify_script_fails_on_any_warning(tmp_path: Path) -> None:
    _require_systemd_analyze()
    text = SYSTEM_UNIT.read_text().replace("UMask=0077", "UMask=0077\nProtectEverything=yes")
    bad = tmp_path / "gepad.service"
    bad.write_text(text)
    result = _run_script(bad)
    assert result.returncode != 0
    assert "Unknown key 'ProtectEverything'" in result.stderr, result.stderr


@pytest.mark.parametrize("unit", [SYSTEM_UNIT, USER_UNIT], ids=["system", "user"])
def test_units_speak_the_daemons_contract(unit: Path) -> None:
    d = _directives(unit)
    expected = {
        "Type": "notify", "NotifyAccess": "main", "WatchdogSec": "30s", "Restart": "on-failure",
        "KillSignal": "SIGTERM", "TimeoutStopSec": "15s", "StateDirectory": "gepad",
        "RuntimeDirectory": "gepad", "RuntimeDirectoryMode": "0700",
        "ConfigurationDirectory": "gepad", "UMask": "0077", "NoNewPrivileges": "yes",
        "MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "RestrictNamespaces": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    }
    for key, value in expected.items():
        assert d.get(key) == [value], f"{unit.name}: {key}={d.get(key)}, expected {value}"
    assert d["ExecStart"][0].endswith("/gepad serve")
    assert "@system-service" in d["SystemCallFilter"]
    assert "LITELLM_LOCAL_MODEL_COST_MAP=True" in d["Environment"]
    assert not any(key.startswith("Listen") for key in d), "grpcio cannot use socket activation"


def test_system_unit_hardening() -> None:
    d = _directives(SYSTEM_UNIT)
    for key in ("DynamicUser", "ProtectHome", "PrivateTmp", "PrivateDevices",
                "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
                "ProtectControlGroups", "RestrictSUIDSGID", "RestrictRealtime"):
        assert d.get(key) == ["yes"], f"{key}={d.get(key)}"
    assert d["ProtectSystem"] == ["strict"]
    assert d["CapabilityBoundingSet"] == [""]
    assert d["ExecStart"] == ["/opt/gepad/.venv/bin/gepad serve"]
    assert d["WantedBy"] == ["multi-user.target"]


def test_user_unit_uses_home_relative_paths() -> None:
    d = _directives(USER_UNIT)
    assert d["ExecStart"] == ["%h/.local/bin/gepad serve"]
    assert d["WantedBy"] == ["default.target"]
    # These need privileges a user manager lacks; systemd would fail the unit or ignore them.
    for key in ("DynamicUser", "ProtectSystem", "PrivateTmp", "CapabilityBoundingSet"):
        assert key not in d


# ------------------------------------------------------------------ MemoryDenyWriteExecute

_PR_SET_MDWE, _PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def _deny_write_execute() -> None:
    """The kernel's own MemoryDenyWriteExecute (Linux >= 6.3), inherited across exec."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_MDWE, _PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_MDWE)")


_PROBE = f"""
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl({_PR_SET_MDWE}, {_PR_MDWE_REFUSE_EXEC_GAIN}, 0, 0, 0) != 0:
    sys.exit(3)
try:
    mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    sys.exit(0)
sys.exit(4)
"""


def test_daemon_runs_with_memory_deny_write_execute(spawn_daemon: SpawnDaemon) -> None:
    probe = subprocess.run([sys.executable, "-c", _PROBE], timeout=60, check=False)
    if probe.returncode == 3:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux < 6.3)")
    assert probe.returncode == 0, "PR_SET_MDWE did not refuse a writable+executable mapping"
    assert mmap.PAGESIZE > 0

    daemon, notify = spawn_daemon(preexec_fn=_deny_write_execute, tcp=True)
    notify.wait_for("READY", timeout=60, alive=daemon.alive)
    # Exercise what a day of service touches: writes, reads, streams, TCP with a token.
    with grpc.insecure_channel(f"unix:{daemon.socket_path}") as channel:
        stub = pb_grpc.GepadStub(channel)
        stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
            name="editor.system", seed_components={"system": "Be brief."})), timeout=30)
        edit = pb.FeedbackEvent(event_id="e1", user_id="alice", program="editor.system",
                                kind=pb.FEEDBACK_KIND_PROMPT_EDIT,
                                edited_components={"system": "Be brief. Use British spelling."})
        assert stub.StreamFeedback(iter([edit]), timeout=30).stored == 1
        accept = pb.FeedbackEvent(event_id="e2", user_id="alice", program="editor.system",
                                  kind=pb.FEEDBACK_KIND_ACCEPTANCE, output="ok",
                                  input=[pb.ChatMessage(role="user", content="hi")])
        assert not stub.RecordFeedback(pb.RecordFeedbackRequest(event=accept), timeout=30).duplicate
    with grpc.insecure_channel(f"127.0.0.1:{daemon.tcp_port}") as channel:
        prompt = pb_grpc.GepadStub(channel).GetPrompt(
            pb.GetPromptRequest(user_id="alice", program="editor.system"), timeout=30,
            metadata=(("authorization", f"Bearer {ADMIN_TOKEN}"),),
        )
    assert prompt.components["system"] == "Be brief. Use British spelling."
    assert daemon.terminate() == 0, daemon.log()
