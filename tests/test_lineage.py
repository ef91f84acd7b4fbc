from __future__ import annotations

from gepad.engine import candidate_id
from gepad.lineage import CandidateRecord, ServedState, human_edit_node

SEED = CandidateRecord("cseed", (), "seed", {"system": "seed"}, "", "", 0.0)


def test_an_edit_of_a_user_never_served_anything_is_a_child_of_the_seed() -> None:
    node = human_edit_node({"system": "Be brief."}, served=None, seed=SEED, event_id="e7",
                           at=12.5)
    assert node == CandidateRecord(
        candidate_id=candidate_id({"system": "Be brief."}, ("cseed",), "human_edit"),
        parent_ids=("cseed",), origin="human_edit", components={"system": "Be brief."},
        rationale="edited by a person (event e7)", run_id="", created_at=12.5,
    )


def test_an_edit_is_a_child_of_what_is_served_and_its_id_depends_on_that_parent() -> None:
    served = ServedState("u", "p", "c42", {"system": "older"}, 3, True, 1.0)
    components = {"system": "Be brief."}
    node = human_edit_node(components, served=served, seed=SEED, event_id="e8", at=20.0)
    on_seed = human_edit_node(components, served=None, seed=SEED, event_id="e8", at=20.0)
    assert node.parent_ids == ("c42",)
    assert node.candidate_id == candidate_id(components, ("c42",), "human_edit")
    assert node.candidate_id != on_seed.candidate_id
    # The node keeps its own copy: the caller's mapping may change after the event is stored.
    components["system"] = "changed later"
    assert node.components == {"system": "Be brief."}
