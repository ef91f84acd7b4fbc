"""The client library's feedback spool: events the daemon has not acknowledged yet, on disk.

One append-only file of records (a 4-byte big-endian length, then a serialized ``FeedbackBatch``),
each append fsynced before it returns, so events handed to the spool survive the application's
crash. The sender replays the file from its start and, once the daemon acknowledged every event
it read, drops those bytes (the rest, appended meanwhile, is kept). Replaying an event twice is
harmless: event ids make the daemon store it once. A torn last record (a crash mid-append) is
ignored, and the next append starts after the last whole record.

The spool holds at most ``max_bytes``; an append beyond that is refused (``SpoolFullError``) and the
sender keeps the events in memory, where its queue bound pushes back on the application.

``FileSpool`` keeps the file; ``MemorySpool`` is the in-memory stand-in for tests and for clients
that want no file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from google.protobuf.message import DecodeError

from gepad.atomic_files import write_atomically
from gepad.v1 import gepad_pb2 as pb

__all__ = [
    "DEFAULT_SPOOL_BYTES",
    "FileSpool",
    "MemorySpool",
    "Spool",
    "SpoolFullError",
    "default_spool_dir",
]

DEFAULT_SPOOL_BYTES = 256 * 1024 * 1024
_HEADER = struct.Struct(">I")
log = logging.getLogger("gepad.client")


class SpoolFullError(Exception):
    """The spool already holds its ``max_bytes``."""


class Spool(Protocol):
    def append(self, events: Sequence[pb.FeedbackEvent]) -> None:
        """Keep ``events`` (durably, for a file) or raise SpoolFullError."""
        ...

    def read(self) -> tuple[list[pb.FeedbackEvent], int]:
        """Every event kept, oldest first, and the mark to pass to ``consume`` once they are
        all acknowledged."""
        ...

    def consume(self, mark: int) -> None:
        """Forget what ``read`` returned with ``mark``; what was appended since stays."""
        ...

    def size(self) -> int:
        """Bytes kept; 0 when there is nothing to replay."""
        ...

    def close(self) -> None: ...


class MemorySpool:
    def __init__(self, max_bytes: int = DEFAULT_SPOOL_BYTES) -> None:
        self.max_bytes = max_bytes
        self._records: list[bytes] = []
        self._bytes = 0

    def append(self, events: Sequence[pb.FeedbackEvent]) -> None:
        data = pb.FeedbackBatch(events=events).SerializeToString()
        if self._bytes + len(data) > self.max_bytes:
            raise SpoolFullError(f"the spool holds its limit of {self.max_bytes} bytes")
        self._records.append(data)
        self._bytes += len(data)

    def read(self) -> tuple[list[pb.FeedbackEvent], int]:
        events = [e for data in self._records for e in pb.FeedbackBatch.FromString(data).events]
        return events, len(self._records)

    def consume(self, mark: int) -> None:
        gone, self._records = self._records[:mark], self._records[mark:]
        self._bytes -= sum(len(d) for d in gone)

    def size(self) -> int:
        return self._bytes

    def close(self) -> None:
        pass


def default_spool_dir(target: str) -> Path:
    """Where a client spools for ``target`` unless told: under ``$XDG_STATE_HOME`` (or
    ``~/.local/state``), one folder per daemon target."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    digest = hashlib.sha256(target.encode()).hexdigest()[:16]
    return Path(base) / "gepad" / "client-spool" / digest


class FileSpool:
    """One spool file in ``directory``, locked for this object's life (through its ``.lock``
    file): the first of ``spool-0.bin``, ``spool-1.bin``, ... that no other live client holds,
    so a restarted application takes its predecessor's file back and replays it."""

    def __init__(self, directory: Path, *, max_bytes: int = DEFAULT_SPOOL_BYTES) -> None:
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        number = 0
        while True:
            lock = os.open(directory / f"spool-{number}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock)
                number += 1
                continue
            break
        self._lock = lock
        self.path = directory / f"spool-{number}.bin"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        self._end = self._whole_records_end()

    def _whole_records_end(self) -> int:
        size = os.fstat(self._fd).st_size
        data = os.pread(self._fd, size, 0) if size else b""
        at = 0
        while at + _HEADER.size <= len(data):
            (length,) = _HEADER.unpack_from(data, at)
            if at + _HEADER.size + length > len(data):
                break
            at += _HEADER.size + length
        return at

    def append(self, events: Sequence[pb.FeedbackEvent]) -> None:
        data = pb.FeedbackBatch(events=events).SerializeToString()
        record = _HEADER.pack(len(data)) + data
        if self._end + len(record) > self.max_bytes:
            raise SpoolFullError(f"{self.path} holds its limit of {self.max_bytes} bytes")
        # After the last whole record: a torn one left by a crash is overwritten.
        os.pwrite(self._fd, record, self._end)
        os.ftruncate(self._fd, self._end + len(record))
        os.fsync(self._fd)
        self._end += len(record)

    def read(self) -> tuple[list[pb.FeedbackEvent], int]:
        data = os.pread(self._fd, self._end, 0)
        events: list[pb.FeedbackEvent] = []
        at = 0
        while at < len(data):
            (length,) = _HEADER.unpack_from(data, at)
            try:
                start = at + _HEADER.size
                events.extend(pb.FeedbackBatch.FromString(data[start:start + length]).events)
            except DecodeError:
                log.error("gepad: %s: an unreadable spool record of %d bytes was dropped",
                          self.path, length)
            at += _HEADER.size + length
        return events, at

    def consume(self, mark: int) -> None:
        if self._end <= mark:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
            self._end = 0
            return
        # Records appended after the read stay: the file is replaced whole by them, so a crash
        # leaves the old file (replayed again as duplicates) or the new one, never a torn mix.
        rest = os.pread(self._fd, self._end - mark, mark)
        write_atomically(self.path, rest)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR)
        self._end = len(rest)

    def size(self) -> int:
        return self._end

    def close(self) -> None:
        if self._end == 0:
            with contextlib.suppress(OSError):
                self.path.unlink()
        os.close(self._fd)
        os.close(self._lock)
