"""Feedback events waiting for the daemon: one file per event, sent oldest first.

Every event is spooled before it is sent, then the whole spool is flushed: a hook killed by its
editor mid-call loses nothing, and one that finds the daemon down leaves its event for the next
run. A file is removed only once the daemon acknowledged its event (stored or a duplicate), and
event ids are stable, so a file sent twice (acknowledged, then the removal lost) counts once.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf.message import DecodeError

from gepad.atomic_files import write_atomically
from gepad.client import Client
from gepad.client.status_errors import GepadError, InvalidArgument, Unreachable
from gepad.hooks.files import private_dir
from gepad.v1 import gepad_pb2 as pb

__all__ = ["FlushReport", "Spool"]

_SUFFIX = ".event"


@dataclass
class FlushReport:
    sent: int = 0
    duplicates: int = 0
    # Refused by the daemon as invalid or unreadable: moved aside, never retried.
    refused: list[str] = field(default_factory=list)
    # Why the flush stopped early with files left (daemon down, out of time), or "".
    stopped: str = ""


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.refused_dir = directory / "refused"

    def put(self, event: pb.FeedbackEvent) -> Path:
        private_dir(self.directory)
        # Ids made by the hooks are [a-z0-9-]; anything else is replaced so it cannot be a path.
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in event.event_id)
        path = self.directory / f"{name}{_SUFFIX}"
        write_atomically(path, event.SerializeToString())
        return path

    def pending(self) -> list[Path]:
        try:
            files = [p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX)]
        except FileNotFoundError:
            return []
        # Oldest first, so feedback reaches the daemon in the order it was given.
        return sorted(files, key=lambda p: (_mtime(p), p.name))

    def flush(
        self, connect: Callable[[float], Client], budget_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> FlushReport:
        """Send what is spooled until it is empty, the daemon fails, or the budget is spent."""
        report = FlushReport()
        files = self.pending()
        if not files:
            return report
        deadline = clock() + budget_seconds
        client: Client | None = None
        try:
            for path in files:
                left = deadline - clock()
                if left <= 0:
                    report.stopped = "out of time"
                    break
                try:
                    event = pb.FeedbackEvent.FromString(path.read_bytes())
                except FileNotFoundError:  # a concurrent hook run sent it
                    continue
                except DecodeError:
                    self._refuse(path, report)
                    continue
                client = client or connect(left)
                try:
                    answer = client.record_feedback(event, wait=True)
                except InvalidArgument as exc:
                    self._refuse(path, report, exc.message)
                    continue
                except Unreachable as exc:
                    report.stopped = f"daemon unreachable ({exc.status})"
                    break
                except GepadError as exc:
                    # Unknown program, a token without access: a config the person can fix,
                    # so the events wait for it rather than being thrown away.
                    report.stopped = f"daemon refused: {exc}"
                    break
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                if answer.duplicate:
                    report.duplicates += 1
                else:
                    report.sent += 1
        finally:
            if client is not None:
                client.close()
        return report

    def _refuse(self, path: Path, report: FlushReport, why: str = "unreadable") -> None:
        private_dir(self.refused_dir)
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, self.refused_dir / path.name)
        report.refused.append(f"{path.name}: {why}")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
