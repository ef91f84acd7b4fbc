"""The lineage tree of a user's prompt candidates, drawn with box-drawing characters.

Pure functions of the ``ListLineage`` answer, so the drawing is tested without a daemon::

    3f2a9c1e  seed
    ├── 7b1c22aa  reflection  — Answer in two sentences at most
    │   └── 91de0f3b  merge +55aa0c12  — Combine brevity with the user's tone
    └── 55aa0c12  human_edit  ◀ served (pinned)

A merge hangs under its first parent and names the others; a node whose parents are not in the
answer is drawn as a root rather than lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gepad.cli.table import render_table
from gepad.cli.text import excerpt, local_time
from gepad.enums import CANDIDATE_ORIGIN
from gepad.v1 import gepad_pb2 as pb

__all__ = ["render_history", "render_lineage", "short_ids"]

_SHORT = 8


def short_ids(ids: Iterable[str], minimum: int = _SHORT) -> dict[str, str]:
    """Each id cut to the shortest prefix (at least ``minimum`` long) that is unique among them,
    as git does for commits; ``gepad rollback`` accepts these prefixes back."""
    unique = sorted(set(ids))
    length = minimum
    while length < max((len(i) for i in unique), default=0):
        if len({i[:length] for i in unique}) == len(unique):
            break
        length += 1
    return {i: i[:length] for i in unique}


def _sort_key(candidate: pb.Candidate) -> tuple[int, int, str]:
    return (candidate.created_at.seconds, candidate.created_at.nanos, candidate.id)


def render_lineage(
    candidates: Sequence[pb.Candidate],
    served_id: str,
    *,
    pinned: bool = False,
    width: int = 100,
) -> list[str]:
    by_id = {c.id: c for c in candidates}
    short = short_ids(by_id)
    children: dict[str, list[pb.Candidate]] = {}
    roots: list[pb.Candidate] = []
    for candidate in candidates:
        parent = next((p for p in candidate.parent_ids if p in by_id and p != candidate.id), None)
        if parent is None:
            roots.append(candidate)
        else:
            children.setdefault(parent, []).append(candidate)

    lines: list[str] = []
    drawn: set[str] = set()

    def label(candidate: pb.Candidate, indent: int) -> str:
        parts = [short[candidate.id], CANDIDATE_ORIGIN.get(candidate.origin, "?")]
        others = [p for p in candidate.parent_ids[1:] if p != candidate.id]
        if others:
            parts[-1] += " " + " ".join("+" + (short.get(p) or p[:_SHORT]) for p in others)
        if candidate.id == served_id:
            parts.append("◀ served (pinned)" if pinned else "◀ served")
        text = "  ".join(parts)
        room = width - indent - len(text) - 4
        if candidate.rationale.strip() and room >= 10:
            text += "  — " + excerpt(candidate.rationale, room)
        return text

    def draw(candidate: pb.Candidate, prefix: str, branch: str, indent: str) -> None:
        drawn.add(candidate.id)
        lines.append(prefix + branch + label(candidate, len(prefix) + len(branch)))
        kids = [k for k in sorted(children.get(candidate.id, []), key=_sort_key)
                if k.id not in drawn]
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            draw(kid, prefix + indent, "└── " if last else "├── ", "    " if last else "│   ")

    for root in sorted(roots, key=_sort_key):
        draw(root, "", "", "")
    # Parent links that loop back on themselves leave nodes no root reaches; show them anyway.
    for candidate in sorted(candidates, key=_sort_key):
        if candidate.id not in drawn:
            draw(candidate, "", "", "")
    return lines


def render_history(history: Sequence[pb.ServedChange], ids: Iterable[str] = ()) -> list[str]:
    """The served-change log as a table, oldest first."""
    known = set(ids) | {h.from_candidate_id for h in history} | {h.to_candidate_id for h in history}
    short = short_ids(i for i in known if i)

    def arrow(change: pb.ServedChange) -> str:
        before = short.get(change.from_candidate_id, "-")
        return f"{before} → {short.get(change.to_candidate_id, '-')}"

    rows = [
        [
            f"v{change.version}",
            local_time(change.at),
            change.reason,
            arrow(change),
            change.actor,
            "pinned" if change.pinned else "",
            change.note,
        ]
        for change in sorted(history, key=lambda c: c.version)
    ]
    headers = ["VERSION", "AT", "REASON", "CHANGE", "BY", "PINNED", "NOTE"]
    return render_table(headers, rows, right={0})
