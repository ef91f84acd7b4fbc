"""Helpers the daemon benchmarks share: the real daemon in a subprocess, readiness over
``NOTIFY_SOCKET`` (the same sd_notify path systemd uses), RSS from ``/proc``, small tables.

The daemon runs in its own process so that the load generator's CPU never competes with it for
one GIL; the benchmarks start their clients in a third process for the same reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ADMIN_TOKEN",
    "PROGRAM",
    "DaemonProcess",
    "acceptance",
    "cpu_seconds",
    "edited_text",
    "free_port",
    "median",
    "percentile",
    "print_table",
    "prompt_edit",
    "rss_bytes",
    "run_json_child",
    "stream_events",
    "upsert_program",
    "user_id",
]

ADMIN_TOKEN = "bench-admin-token"

# What ``gepad serve`` does, minus argument parsing: settings from the environment, then the
# composition root. Used unless ``--cli`` asks for the installed ``gepad serve`` entry point.
_DIRECT = (
    "import logging, anyio\n"
    "from gepad.settings import load_settings\n"
    "from gepad.daemon import run_daemon\n"
    "logging.basicConfig(level=logging.WARNING)\n"
    "anyio.run(run_daemon, load_settings())\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in bytes."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


@dataclass
class DaemonProcess:
    """``gepad`` serving from a fresh temporary state dir (or ``root``), with TCP and a token."""

    root: Path | None = None
    tcp: bool = True
    use_cli: bool = False
    keep_root: bool = False
    # Extra environment for the daemon (e.g. the variable a program's api_key_env names), and
    # the text of its config file (TOML), written where the daemon looks for it.
    env: dict[str, str] = field(default_factory=dict)
    config: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    tcp_port: int | None = field(default=None, init=False)
    notices: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._own_root = self.root is None
        if self.root is None:
            # Unix socket paths are limited to ~107 bytes: keep the root short.
            self.root = Path(tempfile.mkdtemp(prefix="gepad-b-", dir="/tmp"))
        self._notify: socket.socket | None = None

    @property
    def state_dir(self) -> Path:
        assert self.root is not None
        return self.root / "state"

    @property
    def socket_path(self) -> Path:
        assert self.root is not None
        return self.root / "run" / "gepad.sock"

    @property
    def database_path(self) -> Path:
        return self.state_dir / "gepad.sqlite3"

    @property
    def unix_target(self) -> str:
        return f"unix:{self.socket_path}"

    @property
    def tcp_target(self) -> str:
        return f"127.0.0.1:{self.tcp_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> DaemonProcess:
        assert self.root is not None
        notify_path = self.root / "notify.sock"
        notify_path.unlink(missing_ok=True)
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(str(notify_path))
        self.tcp_port = free_port() if self.tcp else None
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("GEPAD_", "NOTIFY_", "WATCHDOG_", "STATE_DIRECTORY",
                                 "RUNTIME_DIRECTORY", "CONFIGURATION_DIRECTORY"))
        }
        env.update(
            GEPAD_STATE_DIR=str(self.state_dir),
            GEPAD_RUNTIME_DIR=str(self.socket_path.parent),
            GEPAD_ADMIN_TOKEN=ADMIN_TOKEN,
            XDG_CONFIG_HOME=str(self.root / "config"),  # never pick up a real config file
            NOTIFY_SOCKET=str(notify_path),
            LITELLM_LOCAL_MODEL_COST_MAP="True",
        )
        if self.tcp_port:
            env["GEPAD_TCP"] = f"127.0.0.1:{self.tcp_port}"
        env.update(self.env)
        if self.config:
            config_file = self.root / "config" / "gepad" / "gepad.toml"
            config_file.parent.mkdir(parents=True, exist_ok=True)
            config_file.write_text(self.config)
        if self.use_cli:
            argv = [str(Path(sys.executable).with_name("gepad")), "serve"]
        else:
            argv = [sys.executable, "-c", _DIRECT]
        log = open(self.root / "daemon.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log_tail()}")
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise TimeoutError(f"daemon not ready after {timeout}s:\n{self.log_tail()}")
            self._notify.settimeout(min(left, 0.5))
            try:
                data = self._notify.recv(4096).decode()
            except TimeoutError:
                continue
            self.notices.append(data)
            if "READY=1" in data.splitlines():
                return self

    def log_tail(self, lines: int = 30) -> str:
        assert self.root is not None
        path = self.root / "daemon.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def rss(self) -> tuple[int, int]:
        return rss_bytes(self.pid)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait: the daemon's graceful shutdown (flushes the writer)."""
        code = 0
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
        elif self.proc is not None:
            code = self.proc.returncode
        if self._notify is not None:
            self._notify.close()
            self._notify = None
        return code

    def cleanup(self) -> None:
        self.stop()
        if self._own_root and not self.keep_root and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DaemonProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def run_json_child(module: str, args: Sequence[str], timeout: float = 600.0) -> Any:
    """Run ``python -m module args`` (a client role) and parse the JSON it prints last."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, timeout=timeout, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(
            f"{module} {' '.join(args)} failed ({out.returncode}):\n{out.stderr.decode()[-4000:]}"
        )
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


def median(values: Iterable[float]) -> float:
    items = list(values)
    return statistics.median(items) if items else float("nan")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A GitHub-flavoured Markdown table, so output pastes straight into RESULTS.md."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    sys.stdout.flush()


def _fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# ---------------------------------------------------------------------------- workload

PROGRAM = "bench.system"
SEED_TEXT = (
    "You are a concise assistant inside a code editor. Answer in plain English, prefer short "
    "code blocks, never invent APIs, and say so when you are unsure."
)


def upsert_program(channel: Any) -> None:
    """Register the benchmark program (admin; ``channel`` is a sync grpc channel)."""
    from gepad.v1 import gepad_pb2 as pb
    from gepad.v1 import gepad_pb2_grpc as pb_grpc

    stub = pb_grpc.GepadStub(channel)
    stub.UpsertProgram(
        pb.UpsertProgramRequest(
            program=pb.Program(name=PROGRAM, seed_components={"system": SEED_TEXT})
        ),
        timeout=30,
    )


def user_id(i: int) -> str:
    return f"user-{i:06d}"


def edited_text(i: int) -> str:
    """A per-user served prompt of about 400 characters (the seed plus personal rules)."""
    return (
        f"{SEED_TEXT}\n- Address the user as colleague #{i}.\n- Prefer Python 3.11 idioms and "
        f"type hints.\n- Keep answers under {100 + i % 400} words.\n- Cite the file and line "
        "you are changing.\n- Avoid emojis; use British spelling."
    )


def prompt_edit(i: int) -> Any:
    from gepad.v1 import gepad_pb2 as pb

    return pb.FeedbackEvent(
        event_id=f"edit-{i}", user_id=user_id(i), program=PROGRAM,
        kind=pb.FEEDBACK_KIND_PROMPT_EDIT, edited_components={"system": edited_text(i)},
    )


def acceptance(i: int, users: int = 100, tag: str = "e") -> Any:
    """A typical ACCEPTANCE event (~600 bytes on the wire): one user message, the model's answer."""
    from gepad.v1 import gepad_pb2 as pb

    return pb.FeedbackEvent(
        event_id=f"{tag}-{i}", user_id=user_id(i % users), program=PROGRAM,
        kind=pb.FEEDBACK_KIND_ACCEPTANCE,
        input=[pb.ChatMessage(
            role="user",
            content=f"Refactor function number {i} in utils.py so that it streams lines instead "
                    "of reading the whole file into memory.",
        )],
        output=(
            f"Here is a streaming version of function {i}:\n```python\ndef read_lines(path):\n"
            "    with open(path) as f:\n        for line in f:\n            yield line.rstrip()\n"
            "```\nIt reads one line at a time, so memory stays flat for large files."
        ),
        candidate_id="c0123456789abcde", source=pb.FEEDBACK_SOURCE_HUMAN,
        metadata={"editor": "vscode"},
    )


def stream_events(channel: Any, events: Iterable[Any], chunk: int = 5000) -> int:
    """Send ``events`` in StreamFeedback calls of ``chunk`` events; returns how many were stored."""
    from gepad.v1 import gepad_pb2_grpc as pb_grpc

    stub = pb_grpc.GepadStub(channel)
    stored = 0
    batch: list[Any] = []
    for event in events:
        batch.append(event)
        if len(batch) >= chunk:
            stored += stub.StreamFeedback(iter(batch), timeout=600).stored
            batch = []
    if batch:
        stored += stub.StreamFeedback(iter(batch), timeout=600).stored
    return stored
