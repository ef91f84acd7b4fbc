"""Failure modes: the user's rubric items seen as things outputs can fail, with the human labels
that bear on each.

A rubric item (gepad/rubric.py) names something the user asked for and cites the events that
said it. Those events, when a person rejected or corrected an output, are labelled failures of
that mode; an output a person accepted passes every mode (they saw nothing to fix). An output
rejected for another reason says nothing about this mode and is left out. Across users, a mode
many users share is a finding about the program, not about one person.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gepad.feedback.event import FeedbackEvent
from gepad.rubric import Rubric, RubricItem

__all__ = [
    "FailureMode",
    "Labelled",
    "ProgramFailureMode",
    "held_out",
    "human_label",
    "program_inventory",
    "user_inventory",
]

# One in this many labelled outputs (by a hash of the event id, so the slice never moves) is
# held out from deriving an evaluator and only used to calibrate it.
HELD_OUT_ONE_IN = 2


def held_out(event_id: str) -> bool:
    digest = hashlib.sha256(event_id.encode()).digest()
    return digest[0] % HELD_OUT_ONE_IN == 0


def human_label(event: FeedbackEvent) -> bool | None:
    """True: a person said this output fails; False: a person accepted it; None: no label."""
    if not event.from_human or not event.output:
        return None
    if event.kind in ("rejection", "correction"):
        return True
    if event.kind == "acceptance":
        return False
    if event.kind == "rating" and event.score is not None:
        return event.score < 0.5
    return None


@dataclass(frozen=True, slots=True)
class Labelled:
    """One output a person labelled."""

    event: FeedbackEvent
    fails: bool
    seq: int  # arrival order among the user's events: labels after a calibration are "new"

    @property
    def held_out(self) -> bool:
        return held_out(self.event.event_id)


@dataclass(frozen=True, slots=True)
class FailureMode:
    name: str
    description: str
    scope: str
    evidence: tuple[str, ...]
    failures: tuple[Labelled, ...]  # outputs people failed for this mode
    corrections: int  # of those, how many came with a corrected output

    @property
    def label_count(self) -> int:
        return len(self.failures)


@dataclass(frozen=True, slots=True)
class ProgramFailureMode:
    name: str
    description: str
    users: tuple[str, ...]
    evidence: int


def labelled_outputs(events: Sequence[FeedbackEvent]) -> list[Labelled]:
    out = []
    for seq, event in enumerate(events):
        label = human_label(event)
        if label is not None:
            out.append(Labelled(event, label, seq))
    return out


def user_inventory(rubric: Rubric, events: Sequence[FeedbackEvent]) -> list[FailureMode]:
    labelled = {item.event.event_id: item for item in labelled_outputs(events)}
    modes = []
    for item in rubric.items:
        failures = tuple(labelled[e] for e in item.evidence
                         if e in labelled and labelled[e].fails)
        modes.append(_mode(item, failures))
    return modes


def _mode(item: RubricItem, failures: tuple[Labelled, ...]) -> FailureMode:
    corrections = sum(1 for f in failures if f.event.correction)
    return FailureMode(item.name, item.description, item.scope, item.evidence, failures,
                       corrections)


def passes(events: Sequence[FeedbackEvent]) -> list[Labelled]:
    """The outputs people accepted: they pass every failure mode."""
    return [item for item in labelled_outputs(events) if not item.fails]


def program_inventory(rubrics: Mapping[str, Rubric]) -> list[ProgramFailureMode]:
    """Modes across the program's users, those most users share first (same name, same mode:
    the rubric's names are normalised snake_case)."""
    by_name: dict[str, list[tuple[str, RubricItem]]] = {}
    for user, rubric in sorted(rubrics.items()):
        for item in rubric.items:
            by_name.setdefault(item.name, []).append((user, item))
    modes = [
        ProgramFailureMode(name, entries[0][1].description,
                           tuple(u for u, _ in entries), sum(len(i.evidence) for _, i in entries))
        for name, entries in by_name.items()
    ]
    return sorted(modes, key=lambda m: (-len(m.users), -m.evidence, m.name))


def shared(modes: Iterable[ProgramFailureMode], min_users: int = 2) -> list[ProgramFailureMode]:
    return [m for m in modes if len(m.users) >= min_users]
