"""The request message each client method sends, built from that method's arguments: one place,
so that ``Client`` and ``AsyncClient`` cannot drift apart in what they ask the daemon."""

from __future__ import annotations

from typing import Any

from gepad.client.events import feedback_event
from gepad.v1 import gepad_pb2 as pb


def upsert_program(program: pb.Program) -> pb.UpsertProgramRequest:
    return pb.UpsertProgramRequest(program=program)


def get_program(name: str) -> pb.GetProgramRequest:
    return pb.GetProgramRequest(name=name)


def record_feedback(
    event: pb.FeedbackEvent | None, fields: dict[str, Any]
) -> pb.RecordFeedbackRequest:
    if event is not None and fields:
        raise TypeError("pass either a FeedbackEvent or keyword fields, not both")
    return pb.RecordFeedbackRequest(event=event if event is not None else feedback_event(**fields))


def get_prompt(user_id: str, program: str) -> pb.GetPromptRequest:
    return pb.GetPromptRequest(user_id=user_id, program=program)


def watch_prompt(user_id: str, program: str) -> pb.WatchPromptRequest:
    return pb.WatchPromptRequest(user_id=user_id, program=program)


def list_lineage(user_id: str, program: str) -> pb.ListLineageRequest:
    return pb.ListLineageRequest(user_id=user_id, program=program)


def rollback(user_id: str, program: str, candidate_id: str, note: str) -> pb.RollbackRequest:
    return pb.RollbackRequest(
        user_id=user_id, program=program, candidate_id=candidate_id, note=note
    )


def unpin(user_id: str, program: str) -> pb.UnpinRequest:
    return pb.UnpinRequest(user_id=user_id, program=program)


def evolve(
    user_id: str, program: str, max_iterations: int, budget: pb.Budget | None, seed: int
) -> pb.EvolveRequest:
    return pb.EvolveRequest(
        user_id=user_id, program=program, max_iterations=max_iterations, budget=budget,
        seed=seed,
    )


def get_run(run_id: str) -> pb.GetRunRequest:
    return pb.GetRunRequest(run_id=run_id)


def list_runs(user_id: str, program: str, limit: int) -> pb.ListRunsRequest:
    return pb.ListRunsRequest(user_id=user_id, program=program, limit=limit)


def watch_run(run_id: str) -> pb.WatchRunRequest:
    return pb.WatchRunRequest(run_id=run_id)


def get_frontier(user_id: str, program: str) -> pb.GetFrontierRequest:
    return pb.GetFrontierRequest(user_id=user_id, program=program)


def get_rubric(user_id: str, program: str) -> pb.GetRubricRequest:
    return pb.GetRubricRequest(user_id=user_id, program=program)


def list_evaluators(user_id: str, program: str) -> pb.ListEvaluatorsRequest:
    return pb.ListEvaluatorsRequest(user_id=user_id, program=program)


def list_adapters() -> pb.ListAdaptersRequest:
    return pb.ListAdaptersRequest()
