"""The failure-mode inventory: which human labels bear on which mode, per user and program."""

from __future__ import annotations

from gepad.failure_modes import (
    human_label,
    labelled_outputs,
    program_inventory,
    shared,
    user_inventory,
)
from gepad.feedback.event import FeedbackEvent
from gepad.rubric import Rubric, RubricItem


def ev(event_id: str, kind: str, output: str = "an answer", **fields: object) -> FeedbackEvent:
    return FeedbackEvent(event_id, "alice", "bot", kind, output=output, **fields)  # type: ignore[arg-type]


def test_only_people_label_outputs_and_only_outputs_they_saw() -> None:
    assert human_label(ev("a", "acceptance")) is False
    assert human_label(ev("r", "rejection")) is True
    assert human_label(ev("c", "correction", correction="better")) is True
    assert human_label(ev("low", "rating", score=0.2)) is True
    assert human_label(ev("high", "rating", score=0.9)) is False
    assert human_label(ev("j", "rejection", source="llm_judge")) is None
    assert human_label(ev("blank", "rejection", output="")) is None
    assert human_label(ev("p", "prompt_edit")) is None


def test_a_modes_failures_are_its_evidence_that_people_failed() -> None:
    events = [ev("e1", "rejection", comment="too long"), ev("e2", "acceptance"),
              ev("e3", "correction", correction="short", comment="shorter"),
              ev("e4", "rejection", comment="no emojis"), ev("e5", "rejection", source="code")]
    rubric = Rubric((
        RubricItem("brief", "short answers", "all requests", ("e1", "e3", "e5")),
        RubricItem("no_emojis", "no emojis", "all requests", ("e4",)),
    ))
    brief, emojis = user_inventory(rubric, events)
    assert [f.event.event_id for f in brief.failures] == ["e1", "e3"]  # e5 is not a person's
    assert brief.corrections == 1
    assert brief.label_count == 2
    assert [f.event.event_id for f in emojis.failures] == ["e4"]
    assert [x.seq for x in labelled_outputs(events)] == [0, 1, 2, 3]


def test_modes_many_users_share_are_program_findings() -> None:
    item = RubricItem("brief", "short answers", "all requests", ("e1", "e2"))
    rubrics = {
        "alice": Rubric((item, RubricItem("no_emojis", "none", "all requests", ("e3",)))),
        "bob": Rubric((RubricItem("brief", "keep it short", "all requests", ("b1",)),)),
    }
    modes = program_inventory(rubrics)
    assert [(m.name, m.users, m.evidence) for m in modes] == [
        ("brief", ("alice", "bob"), 3), ("no_emojis", ("alice",), 1)]
    assert [m.name for m in shared(modes)] == ["brief"]
