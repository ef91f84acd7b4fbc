"""``feedback``: record one event from flags, or many from a JSON Lines file in batches."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from gepad.cli.arguments import Subparsers, key_value
from gepad.cli.exit_codes import CommandError, ExitCode
from gepad.cli.invocation import Invocation
from gepad.client.events import FEEDBACK_KINDS, event_from_mapping, feedback_event
from gepad.v1 import gepad_pb2 as pb

__all__ = ["read_events", "register"]

# Events per RecordFeedbackBatch: large enough that a call's cost is spread thin, well under the
# daemon's 10,000.
MAX_BATCH = 1000


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "feedback", parents=parents, help="record feedback events",
        description="Record one feedback event about an output USER got for PROGRAM, or, with "
        "--file, every event of a JSON Lines file, sent in batches (RecordFeedbackBatch). Each "
        "batch is committed on its own; an event the daemon refuses is listed with its line "
        "and not stored, the others are, and the exit status is 1.",
        epilog="A --file line is a JSON object with the keys of the flags (user_id, program, "
        "kind, input, output, correction, comment, score, dimension, candidate_id, source, "
        "source_id, occurred_at, metadata, edited_components, event_id); `input` is a string "
        "or a list of {role, content}. USER and PROGRAM, if given, fill lines that lack them. "
        "Lines without event_id get one derived from their content, so re-sending a file "
        "(after fixing a refused line) stores nothing twice.",
    )
    p.add_argument("user", metavar="USER", nargs="?", help="user id")
    p.add_argument("program", metavar="PROGRAM", nargs="?", help="program name")
    p.add_argument("--kind", choices=list(FEEDBACK_KINDS), help="what happened")
    p.add_argument("--input", help="the user's request the model answered")
    p.add_argument("--output", default="", help="what the model said")
    p.add_argument("--correction", default="", help="the user's fixed output (correction)")
    p.add_argument("--comment", default="", help="why, in the user's words")
    p.add_argument("--score", type=float, help="0..1 (rating, judge_verdict)")
    p.add_argument("--dimension", default="", help="e.g. tone, format, faithfulness")
    p.add_argument("--candidate-id", default="", help="the candidate that produced --output")
    p.add_argument("--source", choices=["human", "llm_judge", "code"], help="default: human")
    p.add_argument("--source-id", default="", help="which judge or check, for non-human sources")
    p.add_argument(
        "--component", metavar="NAME=TEXT", type=key_value, action="append", default=[],
        help="prompt_edit: a component as the person wrote it (repeatable)",
    )
    p.add_argument(
        "--metadata", metavar="KEY=VALUE", type=key_value, action="append", default=[],
        help="free-form metadata (repeatable)",
    )
    p.add_argument("--event-id", help="idempotency key (default: a fresh UUID)")
    p.add_argument("--file", metavar="PATH", help="JSON Lines of events ('-' reads stdin)")
    p.set_defaults(handler=_feedback)


def _feedback(args: argparse.Namespace, inv: Invocation) -> int:
    if args.file:
        return _stream(args, inv)
    if not (args.user and args.program and args.kind):
        raise CommandError("feedback needs USER, PROGRAM and --kind (or --file)")
    try:
        event = feedback_event(
            user_id=args.user, program=args.program, kind=args.kind, input=args.input,
            output=args.output, correction=args.correction, comment=args.comment,
            score=args.score, dimension=args.dimension, candidate_id=args.candidate_id,
            source=args.source, source_id=args.source_id, metadata=dict(args.metadata),
            edited_components=dict(args.component), event_id=args.event_id,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    response = inv.client().record_feedback(event, wait=True)
    if inv.output.json_mode:
        inv.output.json(response)
    elif response.duplicate:
        inv.output.line(f"event {response.event_id} was already recorded; nothing new stored")
    else:
        inv.output.line(f"recorded event {response.event_id} (example {response.example_id})")
    return ExitCode.OK


def read_events(
    lines: list[str], name: str, defaults: dict[str, Any]
) -> list[tuple[int, pb.FeedbackEvent]]:
    """Parse every line before sending any, so a bad line names itself and nothing is sent.
    Each event comes with its line number."""
    events = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            if not data.get("event_id"):
                merged = {**defaults, **data}
                digest = hashlib.sha256(json.dumps(merged, sort_keys=True).encode()).hexdigest()
                data["event_id"] = f"jsonl-{digest[:32]}"
            events.append((number, event_from_mapping(data, defaults=defaults)))
        except (ValueError, TypeError) as exc:
            raise CommandError(f"{name}:{number}: {exc}") from None
    return events


def _stream(args: argparse.Namespace, inv: Invocation) -> int:
    defaults = {k: v for k, v in (("user_id", args.user), ("program", args.program)) if v}
    try:
        if args.file == "-":
            lines, name = sys.stdin.read().splitlines(), "<stdin>"
        else:
            with open(args.file, encoding="utf-8") as f:
                lines, name = f.read().splitlines(), args.file
    except OSError as exc:
        raise CommandError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    events = read_events(lines, name, defaults)
    client = inv.client()
    stored = duplicates = 0
    refused: list[dict[str, Any]] = []
    for batch in _batches(events, client.connection.max_message_bytes // 2):
        result = client.record_feedback_batch(event for _, event in batch)
        stored += result.stored
        duplicates += result.duplicates
        for (number, _), outcome in zip(batch, result.results, strict=True):
            if outcome.outcome == pb.EVENT_OUTCOME_INVALID:
                refused.append({"line": number, "event_id": outcome.event_id,
                                "field": outcome.field, "reason": outcome.reason})
    if inv.output.json_mode:
        inv.output.json({"stored": stored, "duplicates": duplicates, "refused": refused})
    else:
        inv.output.line(
            f"stored {stored} of {len(events)} events from {name}"
            + (f" ({duplicates} already recorded)" if duplicates else "")
        )
    for item in refused:
        inv.output.note(f"{name}:{item['line']}: refused (event_id {item['event_id']}) "
                        f"{item['field']}: {item['reason']}")
    return ExitCode.FAILED if refused else ExitCode.OK


def _batches(
    events: list[tuple[int, pb.FeedbackEvent]], max_bytes: int
) -> Iterator[list[tuple[int, pb.FeedbackEvent]]]:
    """At most MAX_BATCH events and ``max_bytes`` a batch (one larger event goes alone)."""
    batch: list[tuple[int, pb.FeedbackEvent]] = []
    size = 0
    for item in events:
        n = item[1].ByteSize()
        if batch and (len(batch) >= MAX_BATCH or size + n > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch
