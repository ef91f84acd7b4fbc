"""The edge between protobuf and gepad's records: what a client sends arrives whole, and what
gepad answers carries every field of the record."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from gepad.errors import InvalidArgument
from gepad.lineage import CandidateRecord, ServedChange, ServedState
from gepad.programs import BudgetCaps
from gepad.rpc import messages
from gepad.runs import Run, RunProgress
from gepad.v1 import gepad_pb2 as pb


def test_a_program_survives_the_trip_through_the_record() -> None:
    sent = pb.Program(
        name="editor", seed_components={"system": "s", "style": "t"}, description="d",
        task_model=pb.ModelSettings(model="openai/x", api_base="http://h/v1", api_key_env="K"),
        reflection_model=pb.ModelSettings(model="openai/r"),
        evolution=pb.EvolutionSettings(minibatch_size=4, rollouts_per_example=2,
                                       max_merges_per_round=1, max_iterations_per_round=9,
                                       promotion_margin=0.1, evolve_after_events=5,
                                       max_concurrency=3, must_match=["a"], must_not_match=["b"],
                                       max_output_chars=99),
        budget=pb.Budget(max_metric_calls_per_round=1, max_tokens_per_round=2,
                         max_cost_usd_per_round=0.5, max_metric_calls_per_day=4,
                         max_tokens_per_day=5, max_cost_usd_per_day=1.5),
        revision=2,
    )
    sent.task_model.params.update({"temperature": 0.5})
    sent.updated_at.FromSeconds(1_700_000_000)
    record = messages.program_from_message(sent)
    assert record.task_model.params == {"temperature": 0.5}
    assert record.evolution.must_match == ("a",) and record.updated_at == 1_700_000_000
    assert messages.program_message(record) == sent


def test_an_event_arrives_with_gepads_names_and_unknown_values_stay_visible() -> None:
    sent = pb.FeedbackEvent(event_id="e", user_id="u", program="p",
                            kind=pb.FEEDBACK_KIND_JUDGE_VERDICT, score=0.0,
                            source=pb.FEEDBACK_SOURCE_LLM_JUDGE,
                            input=[pb.ChatMessage(role="user", content="q")],
                            occurred_at=Timestamp(seconds=5, nanos=250_000_000))
    event = messages.event_from_message(sent)
    assert (event.kind, event.source, event.score, event.input, event.occurred_at) == (
        "judge_verdict", "llm_judge", 0.0, (("user", "q"),), 5.25)
    bare = messages.event_from_message(pb.FeedbackEvent(kind=9))  # type: ignore[arg-type]
    assert (bare.kind, bare.source, bare.score, bare.occurred_at) == ("9", "", None, None)
    with pytest.raises(InvalidArgument, match=r"event\.occurred_at"):
        messages.event_from_message(pb.FeedbackEvent(
            occurred_at=Timestamp(seconds=1, nanos=1_000_000_000)))


def test_served_prompts_candidates_and_changes_carry_every_field_to_the_microsecond() -> None:
    prompt = messages.prompt_message(ServedState("u", "p", "c7", {"system": "hi"}, 3, True,
                                                 1_700_000_000.25))
    assert (prompt.user_id, prompt.program, prompt.candidate_id, dict(prompt.components),
            prompt.version, prompt.pinned) == ("u", "p", "c7", {"system": "hi"}, 3, True)
    # A float of seconds holds no more than microseconds at this size.
    assert abs(prompt.updated_at.ToNanoseconds() - 1_700_000_000_250_000_000) < 1_000
    seed = messages.prompt_message(ServedState("u", "p", "s", {"system": "x"}, 0, False, 0.0))
    assert not seed.HasField("updated_at")

    node = messages.candidate_message(CandidateRecord("c2", ("c1",), "human_edit", {"s": "t"},
                                                      "why", "r1", 3.5))
    assert (node.id, list(node.parent_ids), node.origin, node.rationale, node.run_id,
            node.created_at.ToNanoseconds()) == ("c2", ["c1"], pb.CANDIDATE_ORIGIN_HUMAN_EDIT,
                                                 "why", "r1", 3_500_000_000)
    change = messages.change_message(ServedChange(4, "c1", "c2", "rollback", "alice", True,
                                                  "bad", 7.0))
    assert (change.version, change.from_candidate_id, change.to_candidate_id, change.reason,
            change.actor, change.pinned, change.note, change.at.seconds) == (
        4, "c1", "c2", "rollback", "alice", True, "bad", 7)


def test_a_run_and_its_progress_carry_every_field() -> None:
    run = Run("r1", "u", "p", "schedule", status="failed", iterations=3, accepted=2, merges=1,
              frontier_size=2, best_val_score=0.5, metric_calls=9, llm_calls=12, tokens=40,
              cost_usd=0.25, budget=BudgetCaps(max_metric_calls_per_round=60),
              promoted=True, promoted_candidate_id="c3", message="m", started_at=10.0)
    message = messages.progress_message(RunProgress(run, "promoted", "why")).run
    assert message == pb.Run(
        run_id="r1", user_id="u", program="p", trigger="schedule",
        status=pb.RUN_STATUS_FAILED, iterations=3, accepted=2, merges=1, frontier_size=2,
        best_val_score=0.5, metric_calls=9, llm_calls=12, tokens=40, cost_usd=0.25,
        budget=pb.Budget(max_metric_calls_per_round=60), promoted=True,
        promoted_candidate_id="c3", message="m", started_at=Timestamp(seconds=10),
    )
    run.finished_at = 11.0
    assert messages.run_message(run).finished_at.seconds == 11
