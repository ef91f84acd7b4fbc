"""Reading JSON records that older gepad versions wrote in protobuf's JSON mapping.

Programs, runs and feedback payloads were stored as protobuf JSON before gepad kept plain records:
field names in lowerCamelCase and 64-bit integers as strings. Records now store their own
snake_case JSON; their readers go through ``field`` so a database written by either version opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

__all__ = ["field", "number", "settings"]

T = TypeVar("T")


def field(data: Mapping[str, Any], name: str, default: Any = None) -> Any:
    if name in data:
        return data[name]
    head, *rest = name.split("_")
    return data.get(head + "".join(part.title() for part in rest), default)


def number(data: Mapping[str, Any], name: str) -> float:
    """A numeric field (protobuf JSON writes int64 as a string)."""
    return float(field(data, name, 0) or 0)


def settings(cls: type[T], data: Mapping[str, Any]) -> T:
    """A flat record of numbers and string lists (a program's evolution settings, budget caps);
    missing fields keep the record's defaults."""
    defaults = cls()
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        value = field(data, f.name)
        if value is not None:
            kind = type(getattr(defaults, f.name))
            values[f.name] = tuple(value) if kind is tuple else kind(value)
    return cls(**values)
