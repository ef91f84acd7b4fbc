"""Where command output goes: JSON for scripts (``--json``), text for people.

JSON is the proto3 JSON mapping of the RPC's answer with the proto's own field names, every field
present (defaults included, so scripts see stable keys), enums by name, and 64-bit integers as
numbers where they fit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from google.protobuf import json_format
from google.protobuf.message import Message

__all__ = ["Output", "to_json"]


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        unquote_int64_if_possible=True,
    )


class Output:
    def __init__(self, *, json_mode: bool, out: TextIO | None = None, err: TextIO | None = None):
        self.json_mode = json_mode
        self._out = out
        self._err = err

    @property
    def out(self) -> TextIO:
        # Looked up on each use, so pytest's capsys (which swaps sys.stdout) sees everything.
        return self._out or sys.stdout

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    def line(self, text: str = "") -> None:
        """Human output; silent in JSON mode so stdout stays parseable."""
        if not self.json_mode:
            print(text, file=self.out, flush=True)

    def lines(self, texts: list[str]) -> None:
        for text in texts:
            self.line(text)

    def json(self, value: Message | Mapping[str, Any], *, stream: bool = False) -> None:
        """One JSON document: indented, or one line per document for streams (JSON Lines)."""
        data = to_json(value) if isinstance(value, Message) else dict(value)
        text = json.dumps(data, ensure_ascii=False, indent=None if stream else 2)
        print(text, file=self.out, flush=True)

    def note(self, text: str) -> None:
        """Status for people on stderr, in both modes (it never pollutes JSON on stdout)."""
        print(text, file=self.err, flush=True)
