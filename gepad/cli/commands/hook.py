"""``hook``: feedback from a coding agent's hook (Claude Code, Cursor), read from stdin.

Exits 0 whatever happens and prints only what the editor's hook protocol expects: a hook that
failed loudly would get in the person's way. What went wrong is in ``<state_dir>/hooks/hook.log``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import select
import sys
import time
from typing import BinaryIO

from gepad.cli.arguments import Subparsers
from gepad.cli.exit_codes import ExitCode
from gepad.cli.invocation import Invocation
from gepad.client import Client
from gepad.hooks import AGENTS, run_hook
from gepad.hooks.files import append_log, private_dir
from gepad.settings import HookSettings, default_state_dir

__all__ = ["register"]

# Editors write the payload and close stdin at once; a stdin that stays open is not an editor.
_STDIN_SECONDS = 2.0
_MAX_READ = 1024 * 1024 + 1


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "hook", parents=parents, help="feedback from a coding agent's hook (reads stdin)",
        description="Run as a Claude Code or Cursor hook: read the hook's JSON from stdin, turn "
        "what the person did with the agent's last answer into a feedback event, and send it "
        "(spooled under <state_dir>/hooks while the daemon is down). Always exits 0.",
        epilog="User and program: [hooks] user/program in the config, or $GEPAD_USER and "
        "$GEPAD_PROGRAM (default: your login name and editor.system). See README, "
        "'Coding agents'.",
    )
    p.add_argument("agent", choices=sorted(AGENTS), help="which editor runs this hook")
    p.set_defaults(handler=_hook)


def _hook(args: argparse.Namespace, inv: Invocation) -> int:
    try:
        settings = inv.settings()
        hooks_dir, hook_settings = settings.state_dir / "hooks", settings.hooks
    except Exception as exc:  # a broken config must not break the editor either
        hooks_dir, hook_settings = default_state_dir(inv.env) / "hooks", HookSettings()
        with contextlib.suppress(Exception):
            private_dir(hooks_dir)
            append_log(hooks_dir / "hook.log", f"{args.agent}: config: {exc}")

    def connect(timeout: float) -> Client:
        return Client(inv.target().target, token=inv.token, timeout=max(timeout, 0.05))

    payload = b""
    with contextlib.suppress(Exception):
        payload = _read_stdin(_STDIN_SECONDS)
    reply = run_hook(args.agent, payload, hooks_dir=hooks_dir, settings=hook_settings,
                     connect=connect)
    if reply:
        with contextlib.suppress(Exception):
            print(reply, flush=True)
    return ExitCode.OK


def _read_stdin(seconds: float) -> bytes:
    stream: BinaryIO = sys.stdin.buffer
    try:
        fd = stream.fileno()
    except (OSError, io.UnsupportedOperation):  # not a real file (tests, embedding)
        return stream.read(_MAX_READ)
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    while size < _MAX_READ:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
