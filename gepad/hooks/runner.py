"""One hook run, start to end: read the payload, judge, spool, flush, log — and never fail.

A hook that raised, printed the wrong thing or waited on a dead daemon would get in the way of
the person using the editor, which costs more than any one lost feedback event. So every failure
ends here as a line in ``<state_dir>/hooks/hook.log`` and the run still answers what the editor
expects.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gepad.client import Client
from gepad.hooks import claude_code, cursor
from gepad.hooks.files import append_log, private_dir
from gepad.hooks.outcome import Outcome, Subject
from gepad.hooks.sessions import Sessions
from gepad.hooks.spool import Spool
from gepad.settings import HookSettings

__all__ = ["AGENTS", "run_hook"]

Handler = Callable[[Mapping[str, Any], Sessions, Subject], Outcome]
AGENTS: dict[str, Handler] = {claude_code.AGENT: claude_code.handle, cursor.AGENT: cursor.handle}
# A payload is a few kilobytes; anything far larger is not one, and is not parsed.
MAX_PAYLOAD_BYTES = 1024 * 1024


def run_hook(
    agent: str, payload: bytes, *, hooks_dir: Path, settings: HookSettings,
    connect: Callable[[float], Client], clock: Callable[[], float] = time.monotonic,
) -> str:
    """Handle one payload of ``agent``'s hook; answer what to print on stdout."""
    started = clock()
    # Cursor reads stdout whatever happened; before the payload says which event this is, the
    # answer that lets a prompt through is the safe one.
    reply = cursor.CONTINUE if agent == cursor.AGENT else ""
    log = hooks_dir / "hook.log"
    try:
        private_dir(hooks_dir)
        data = _payload(payload)
        if agent == cursor.AGENT:
            reply = cursor.reply_for(data.get("hook_event_name"))
        sessions = Sessions(hooks_dir / "sessions")
        outcome = AGENTS[agent](data, sessions, _subject(settings))
        sessions.prune()
        reply = outcome.reply or reply
        spool = Spool(hooks_dir / "spool")
        for event in outcome.events:
            spool.put(event)
        left = settings.timeout_seconds - (clock() - started)
        report = spool.flush(connect, max(left, 0.0), clock=clock)
        line = f"{agent}: {outcome.note}; sent {report.sent}"
        if report.duplicates:
            line += f", {report.duplicates} already recorded"
        if report.refused:
            line += f"; refused by the daemon: {'; '.join(report.refused)}"
        if report.stopped:
            line += f"; {len(spool.pending())} left in the spool: {report.stopped}"
        _log(log, line)
    except Exception as exc:  # fail open: see the module's docstring
        _log(log, f"{agent}: {type(exc).__name__}: {exc}")
    return reply


def _payload(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(raw)} bytes is too large")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("payload is not a JSON object")
    return data


def _subject(settings: HookSettings) -> Subject:
    return Subject(user_id=settings.user or getpass.getuser(), program=settings.program)


def _log(path: Path, line: str) -> None:
    # The log is the only witness of a failure, but it must not become one.
    with contextlib.suppress(OSError):
        append_log(path, line)
