from __future__ import annotations

import json

from gepad.feedback.event import FeedbackEvent, event_from_json, event_to_json


def test_an_event_comes_back_whole_from_its_stored_payload() -> None:
    event = FeedbackEvent(
        event_id="e1", user_id="alice", program="bot", kind="rating",
        input=(("system", "ctx"), ("user", "Grüße")), output="hi", candidate_id="c1",
        correction="", comment="too long", score=0.25, dimension="brevity", source="llm_judge",
        source_id="j1", occurred_at=12.5, metadata={"app": "ed"}, edited_components={},
    )
    assert event_from_json(event_to_json(event)) == event
    assert not event.from_human and FeedbackEvent("e", "u", "p", "rejection").from_human


def test_fields_left_at_their_defaults_are_not_stored_and_read_back_as_defaults() -> None:
    event = FeedbackEvent("e1", "alice", "bot", "rejection", input=(("user", "q"),), output="a")
    stored = json.loads(event_to_json(event))
    assert stored == {"event_id": "e1", "user_id": "alice", "program": "bot",
                      "kind": "rejection", "input": [{"role": "user", "content": "q"}],
                      "output": "a"}
    assert event_from_json(event_to_json(event)) == event
    # A score of 0 is a score, not an unset one.
    zero = FeedbackEvent("e2", "alice", "bot", "rating", input=(("user", "q"),), output="a",
                         score=0.0, occurred_at=0.0)
    assert event_from_json(event_to_json(zero)) == zero
    # Rows written before this change carry every key, defaults included.
    full = {**stored, "correction": "", "comment": "", "score": None, "dimension": "",
            "source": "", "source_id": "", "occurred_at": None, "metadata": {},
            "edited_components": {}, "candidate_id": ""}
    assert event_from_json(json.dumps(full)) == event


def test_a_payload_stored_by_an_older_gepad_as_protobuf_json_still_reads() -> None:
    old = {"eventId": "e2", "userId": "bob", "program": "bot", "kind": "FEEDBACK_KIND_CORRECTION",
           "input": [{"role": "user", "content": "Fix: teh"}], "correction": "Fix: the",
           "source": "FEEDBACK_SOURCE_HUMAN", "occurredAt": "2026-01-01T00:00:00Z",
           "editedComponents": {}, "candidateId": "c3"}
    event = event_from_json(json.dumps(old))
    assert event == FeedbackEvent("e2", "bob", "bot", "correction", input=(("user", "Fix: teh"),),
                                  correction="Fix: the", source="human", candidate_id="c3")
    unset = event_from_json(json.dumps({"kind": "FEEDBACK_KIND_ACCEPTANCE",
                                        "source": "FEEDBACK_SOURCE_UNSPECIFIED"}))
    assert (unset.kind, unset.source, unset.from_human) == ("acceptance", "", True)
