"""Folding a user's stored feedback into the engine's dataset.

Every event on the same input is part of one example: the newest correction is its reference,
comments become notes (quoted data for the judge and the reflection LM, never instructions),
human acceptances, rejections and ratings give it a label, and rejected outputs are kept so the
judge can see what the user did not want.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from gepad.engine import ChatMessage, Dataset, Example
from gepad.store.runs import EventRow, ExampleRecord

__all__ = ["build_dataset"]

_SPLITS = {"train", "val", "gate"}


def build_dataset(examples: Sequence[ExampleRecord], events: Sequence[EventRow]) -> Dataset:
    by_example: dict[str, list[EventRow]] = {}
    for row in events:
        by_example.setdefault(row.example_id, []).append(row)
    built = []
    for record in examples:
        if record.split not in _SPLITS:
            continue
        messages = tuple(
            ChatMessage(m["role"], m["content"]) for m in json.loads(record.input_json)
        )
        reference: str | None = None
        notes: list[str] = []
        rejected: list[str] = []
        dimensions: list[str] = []
        label: float | None = None
        for row in by_example.get(record.example_id, []):
            event = row.event
            if event.comment:
                notes.append(event.comment)
            if event.dimension and event.dimension not in dimensions:
                dimensions.append(event.dimension)
            if event.kind == "correction":
                reference = event.correction or reference
            elif event.kind == "rejection":
                if event.output:
                    rejected.append(event.output)
                if event.from_human:
                    label = 0.0
            elif event.kind == "acceptance" and event.from_human:
                label = 1.0
            elif event.kind == "rating" and event.from_human and event.score is not None:
                label = event.score
        built.append(Example(
            id=record.example_id, split=record.split,  # type: ignore[arg-type]
            input=messages, reference=reference, notes=tuple(notes), label=label,
            rejected_outputs=tuple(rejected), dimensions=tuple(dimensions),
        ))
    return Dataset(built)
