"""The lineage tree drawing: a pure function of ListLineage's answer, tested without a daemon."""

from __future__ import annotations

from gepad.cli.commands.lineage import lineage_lines
from gepad.cli.commands.prompts import resolve_candidate
from gepad.cli.tree import render_history, render_lineage, short_ids
from gepad.v1 import gepad_pb2 as pb

SEED, REFL, EDIT, MERGE, LATE = (
    "3f2a9c1e00000001", "7b1c22aa00000002", "55aa0c1200000003", "91de0f3b00000004",
    "c0ffee0000000005",
)


def cand(
    id_: str, origin: int, parents: tuple[str, ...] = (), rationale: str = "", at: int = 0
) -> pb.Candidate:
    c = pb.Candidate(id=id_, parent_ids=parents, origin=origin, rationale=rationale)  # type: ignore[arg-type]
    c.created_at.seconds = at
    return c


def known_tree() -> list[pb.Candidate]:
    # Deliberately out of creation order: the drawing orders children by created_at.
    return [
        cand(MERGE, pb.CANDIDATE_ORIGIN_MERGE, (REFL, EDIT), "Combine brevity with tone", 4),
        cand(EDIT, pb.CANDIDATE_ORIGIN_HUMAN_EDIT, (SEED,), "", 3),
        cand(SEED, pb.CANDIDATE_ORIGIN_SEED, (), "", 1),
        cand(REFL, pb.CANDIDATE_ORIGIN_REFLECTION, (SEED,),
             "Answer in two sentences at most.\nUsers rejected long answers.", 2),
    ]


def test_known_tree_is_drawn_with_box_characters() -> None:
    lines = render_lineage(known_tree(), EDIT, pinned=True, width=100)
    assert lines == [
        "3f2a9c1e  seed",
        "├── 7b1c22aa  reflection  — Answer in two sentences at most.",
        "│   └── 91de0f3b  merge +55aa0c12  — Combine brevity with tone",
        "└── 55aa0c12  human_edit  ◀ served (pinned)",
    ]


def test_rationale_is_cut_to_the_width() -> None:
    lines = render_lineage(known_tree(), SEED, width=50)
    assert lines[0] == "3f2a9c1e  seed  ◀ served"
    assert all(len(line) <= 50 for line in lines)
    assert lines[1].endswith("…")


def test_orphans_and_cycles_are_still_drawn() -> None:
    lost = cand(LATE, pb.CANDIDATE_ORIGIN_REFLECTION, ("gone-parent",), "orphan", 9)
    a = cand("aaaaaaaa1", pb.CANDIDATE_ORIGIN_REFLECTION, ("bbbbbbbb1",), "", 5)
    b = cand("bbbbbbbb1", pb.CANDIDATE_ORIGIN_REFLECTION, ("aaaaaaaa1",), "", 6)
    lines = render_lineage([*known_tree(), lost, a, b], SEED)
    drawn = "\n".join(lines)
    for id_ in (SEED, REFL, EDIT, MERGE, LATE, "aaaaaaaa1", "bbbbbbbb1"):
        assert id_[:8] in drawn
    assert len(lines) == 7


def test_short_ids_grow_until_unique() -> None:
    # One length for all, so the ids line up in tables.
    ids = ["cand-000001", "cand-000002", "zzzzzzzzzzzz"]
    assert short_ids(ids) == {
        "cand-000001": "cand-000001", "cand-000002": "cand-000002", "zzzzzzzzzzzz": "zzzzzzzzzzz",
    }
    assert short_ids(["3f2a9c1e00000001", "7b1c22aa00000002"]) == {
        "3f2a9c1e00000001": "3f2a9c1e", "7b1c22aa00000002": "7b1c22aa",
    }
    assert short_ids(["abc"]) == {"abc": "abc"}


def test_history_table_and_full_lineage_view() -> None:
    change = pb.ServedChange(
        version=1, from_candidate_id=SEED, to_candidate_id=EDIT, reason="rollback",
        actor="admin", pinned=True, note="too long",
    )
    table = render_history([change])
    assert table[0].split() == ["VERSION", "AT", "REASON", "CHANGE", "BY", "PINNED", "NOTE"]
    assert "v1" in table[1] and "3f2a9c1e → 55aa0c12" in table[1]
    assert table[1].rstrip().endswith("admin  pinned  too long")

    lineage = pb.ListLineageResponse(
        candidates=known_tree(), served_candidate_id=EDIT, history=[change]
    )
    lines = lineage_lines(lineage, 100)
    assert "◀ served (pinned)" in lines[3]
    assert lines[5] == "served changes:"


def test_rollback_accepts_a_unique_prefix() -> None:
    lineage = pb.ListLineageResponse(candidates=known_tree())
    assert resolve_candidate(lineage, "7b1c") == REFL
    assert resolve_candidate(lineage, SEED) == SEED
    assert resolve_candidate(lineage, "nope") == "nope"  # the daemon will say NOT_FOUND
