"""Small text shaping for human-readable output: times, ids, one-line excerpts."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

__all__ = ["excerpt", "local_time", "now_local", "plural"]


def local_time(ts: Timestamp) -> str:
    """``2025-11-21 21:40:03`` in the local zone; ``-`` for an unset timestamp."""
    if ts.seconds == 0 and ts.nanos == 0:
        return "-"
    return ts.ToDatetime(tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def excerpt(text: str, width: int) -> str:
    """The first non-empty line of ``text``, cut to ``width`` characters with an ellipsis."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    if width <= 0:
        return ""
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def now_local() -> str:
    return datetime.now().astimezone().strftime("%H:%M:%S")
