"""Protobuf messages to gepad's records and back: the one place the two shapes meet.

Inside gepad, programs, feedback events, served prompts, candidates and runs are plain records;
the servicer converts a request on the way in and a record on the way out, here.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from gepad.adapters.host import TargetStatus
from gepad.enums import CANDIDATE_ORIGIN, FEEDBACK_KIND, FEEDBACK_SOURCE, RUN_STATUS
from gepad.errors import InvalidArgument
from gepad.evaluator_set import EvaluatorSet, TrackedEvaluator
from gepad.evaluators.calibration import Calibration
from gepad.failure_modes import ProgramFailureMode
from gepad.feedback.event import FeedbackEvent
from gepad.lineage import CandidateRecord, ServedChange, ServedState
from gepad.llm import ModelSettings
from gepad.programs import MODEL_ROLES, BudgetCaps, EvolutionSettings, Program
from gepad.rounds.manager import FrontierView
from gepad.rubric import Rubric
from gepad.runs import Run, RunProgress
from gepad.store.ingest import IngestResult
from gepad.v1 import gepad_pb2 as pb

__all__ = [
    "adapter_message",
    "batch_result_message",
    "budget_from_message",
    "budget_message",
    "candidate_message",
    "change_message",
    "evaluators_message",
    "event_from_message",
    "frontier_message",
    "program_from_message",
    "program_message",
    "progress_message",
    "prompt_message",
    "rubric_message",
    "run_message",
]

_RUN_STATUS_VALUE = {name: value for value, name in RUN_STATUS.items()}
_ORIGIN_VALUE = {name: value for value, name in CANDIDATE_ORIGIN.items()}


def _stamp(timestamp: Timestamp, seconds: float) -> None:
    timestamp.FromNanoseconds(int(seconds * 1e9))


def _seconds(timestamp: Timestamp) -> float:
    return timestamp.seconds + timestamp.nanos / 1e9


# ---------------------------------------------------------------------- programs


def _model(message: pb.ModelSettings) -> ModelSettings:
    return ModelSettings(
        model=message.model, api_base=message.api_base or None,
        api_key_env=message.api_key_env or None,
        params=json_format.MessageToDict(message.params) if message.HasField("params") else {},
    )


def budget_from_message(message: pb.Budget) -> BudgetCaps:
    return BudgetCaps(**{f.name: getattr(message, f.name) for f in fields(BudgetCaps)})


def budget_message(caps: BudgetCaps) -> pb.Budget:
    return pb.Budget(**{f.name: getattr(caps, f.name) for f in fields(BudgetCaps)})


def program_from_message(message: pb.Program) -> Program:
    ev = message.evolution
    evolution: dict[str, Any] = {f.name: getattr(ev, f.name) for f in fields(EvolutionSettings)}
    evolution.update(must_match=tuple(ev.must_match), must_not_match=tuple(ev.must_not_match))
    return Program(
        name=message.name,
        seed_components=dict(message.seed_components),
        evolution=EvolutionSettings(**evolution),
        budget=budget_from_message(message.budget),
        description=message.description,
        revision=message.revision,
        updated_at=_seconds(message.updated_at),
        **{role: _model(getattr(message, role)) for role in MODEL_ROLES},
    )


def program_message(program: Program) -> pb.Program:
    message = pb.Program(
        name=program.name, seed_components=program.seed_components,
        description=program.description, revision=program.revision,
        evolution=pb.EvolutionSettings(**{
            f.name: getattr(program.evolution, f.name) for f in fields(EvolutionSettings)
        }),
        budget=budget_message(program.budget),
    )
    for role in MODEL_ROLES:
        settings: ModelSettings = getattr(program, role)
        if not (settings.model or settings.api_base or settings.api_key_env or settings.params):
            continue  # an unset role stays unset in the message
        target: pb.ModelSettings = getattr(message, role)
        target.model = settings.model
        target.api_base = settings.api_base or ""
        target.api_key_env = settings.api_key_env or ""
        if settings.params:
            target.params.update(dict(settings.params))
    if program.updated_at:
        _stamp(message.updated_at, program.updated_at)
    return message


# ---------------------------------------------------------------------- feedback


def event_from_message(message: pb.FeedbackEvent) -> FeedbackEvent:
    occurred_at: float | None = None
    if message.HasField("occurred_at"):
        if not 0 <= message.occurred_at.nanos < 1_000_000_000:
            raise InvalidArgument(
                "event.occurred_at", "must be a valid time, not more than a day in the future"
            )
        occurred_at = _seconds(message.occurred_at)
    return FeedbackEvent(
        event_id=message.event_id, user_id=message.user_id, program=message.program,
        # An enum number this gepad does not know stays visible in the refusal ("unknown value 9").
        kind=FEEDBACK_KIND.get(message.kind, str(message.kind) if message.kind else ""),
        source=FEEDBACK_SOURCE.get(message.source, str(message.source) if message.source else ""),
        input=tuple((m.role, m.content) for m in message.input),
        output=message.output, candidate_id=message.candidate_id,
        correction=message.correction, comment=message.comment,
        score=message.score if message.HasField("score") else None,
        dimension=message.dimension, source_id=message.source_id, occurred_at=occurred_at,
        metadata=dict(message.metadata), edited_components=dict(message.edited_components),
    )


def batch_result_message(
    sequence: int, event_ids: list[str], outcomes: list[IngestResult | InvalidArgument]
) -> pb.FeedbackBatchResult:
    """One result per event of a batch, in order: what became of it, or why it was refused."""
    results = []
    stored = duplicates = invalid = 0
    for event_id, outcome in zip(event_ids, outcomes, strict=True):
        if isinstance(outcome, InvalidArgument):
            invalid += 1
            results.append(pb.EventResult(
                event_id=event_id, outcome=pb.EVENT_OUTCOME_INVALID, field=outcome.field,
                reason=outcome.why,
            ))
        elif outcome.duplicate:
            duplicates += 1
            results.append(pb.EventResult(
                event_id=event_id, outcome=pb.EVENT_OUTCOME_DUPLICATE,
                example_id=outcome.example_id,
            ))
        else:
            stored += 1
            results.append(pb.EventResult(
                event_id=event_id, outcome=pb.EVENT_OUTCOME_STORED, example_id=outcome.example_id,
            ))
    return pb.FeedbackBatchResult(
        sequence=sequence, results=results, stored=stored, duplicates=duplicates, invalid=invalid,
    )


# ---------------------------------------------------------------------- serving and lineage


def prompt_message(state: ServedState) -> pb.Prompt:
    message = pb.Prompt(
        user_id=state.user_id, program=state.program, candidate_id=state.candidate_id,
        components=state.components, version=state.version, pinned=state.pinned,
    )
    if state.updated_at:
        _stamp(message.updated_at, state.updated_at)
    return message


def candidate_message(record: CandidateRecord) -> pb.Candidate:
    message = pb.Candidate(
        id=record.candidate_id, parent_ids=record.parent_ids,
        origin=cast(pb.CandidateOrigin.ValueType, _ORIGIN_VALUE.get(record.origin, 0)),
        components=record.components, rationale=record.rationale, run_id=record.run_id,
    )
    _stamp(message.created_at, record.created_at)
    return message


def frontier_message(view: FrontierView) -> pb.GetFrontierResponse:
    response = pb.GetFrontierResponse(
        served_candidate_id=view.served_candidate_id, val_examples=view.val_examples
    )
    for node, entry in view.entries:
        response.entries.add(
            candidate=candidate_message(node), val_score=entry.val_score,
            instances_won=entry.instances_won, val_coverage=entry.val_coverage,
            dimension_scores=entry.dimension_scores,
        )
    return response


def change_message(change: ServedChange) -> pb.ServedChange:
    message = pb.ServedChange(
        version=change.version, from_candidate_id=change.from_candidate_id,
        to_candidate_id=change.to_candidate_id, reason=change.reason, actor=change.actor,
        pinned=change.pinned, note=change.note,
    )
    _stamp(message.at, change.at)
    return message


# ---------------------------------------------------------------------- runs


def run_message(run: Run) -> pb.Run:
    message = pb.Run(
        run_id=run.run_id, user_id=run.user_id, program=run.program, trigger=run.trigger,
        status=cast(pb.RunStatus.ValueType, _RUN_STATUS_VALUE[run.status]),
        iterations=run.iterations, accepted=run.accepted, merges=run.merges,
        frontier_size=run.frontier_size, best_val_score=run.best_val_score,
        metric_calls=run.metric_calls, llm_calls=run.llm_calls, tokens=run.tokens,
        cost_usd=run.cost_usd,
        budget=budget_message(run.budget),
        promoted=run.promoted, promoted_candidate_id=run.promoted_candidate_id,
        message=run.message,
    )
    _stamp(message.started_at, run.started_at)
    if run.finished_at is not None:
        _stamp(message.finished_at, run.finished_at)
    return message


def rubric_message(user_id: str, program: str, rubric: Rubric) -> pb.Rubric:
    message = pb.Rubric(
        user_id=user_id, program=program, version=rubric.version,
        events_read=rubric.events_seen,
        items=[pb.RubricItem(name=i.name, description=i.description, scope=i.scope,
                             evidence=i.evidence) for i in rubric.items],
    )
    if rubric.updated_at:
        _stamp(message.updated_at, rubric.updated_at)
    return message


def progress_message(progress: RunProgress) -> pb.RunProgress:
    return pb.RunProgress(run=run_message(progress.run), event=progress.event,
                          detail=progress.detail)


# ---------------------------------------------------------------------- adapters


def adapter_message(status: TargetStatus) -> pb.AdapterTarget:
    message = pb.AdapterTarget(
        name=status.name, plugin=status.plugin, user_id=status.user_id or "",
        program=status.program, watches_edits=status.watches_edits, pending=status.pending,
        delivered_users=status.delivered_users,
        failures=status.failures, last_error=status.last_error,
        last_edit_note=status.last_edit_note,
    )
    for record in status.delivered:
        _stamp(message.delivered.add(
            user_id=record.user_id, program=record.program, candidate_id=record.candidate_id,
            version=record.version,
        ).delivered_at, record.delivered_at)
    if status.last_error_at is not None:
        _stamp(message.last_error_at, status.last_error_at)
    if status.last_edit_at is not None:
        _stamp(message.last_edit_at, status.last_edit_at)
    return message


# ---------------------------------------------------------------------- evaluators


def _calibration(c: Calibration) -> pb.Calibration:
    return pb.Calibration(n=c.n, mcc=c.mcc, kappa=c.kappa, tpr=c.tpr, tnr=c.tnr,
                          degenerate=c.degenerate, true_positives=c.tp, false_positives=c.fp,
                          true_negatives=c.tn, false_negatives=c.fn)


def _tracked(e: TrackedEvaluator) -> pb.TrackedEvaluator:
    message = pb.TrackedEvaluator(
        name=e.name, kind=e.kind, origin=e.origin, failure_mode=e.failure_mode,
        version=e.version, status=e.status, reason=e.reason,
        calibration=_calibration(e.calibration),
        checks=[f"{what}: {value}" for what, values in e.spec for value in values],
        point=e.point,
    )
    if e.calibrated_at:
        _stamp(message.calibrated_at, e.calibrated_at)
    return message


def evaluators_message(user_id: str, program: str, evaluators: EvaluatorSet,
                       program_modes: list[ProgramFailureMode], *, admin: bool
                       ) -> pb.ListEvaluatorsResponse:
    """The user's evaluators; the program's modes across users only for an admin (they name
    users), a user sees how many users share each of their own modes."""
    users_of = {m.name: len(m.users) for m in program_modes}
    covered, tracked = evaluators.coverage
    message = pb.ListEvaluatorsResponse(
        user_id=user_id, program=program,
        evaluators=[_tracked(e) for e in evaluators.evaluators],
        failure_modes=[pb.FailureMode(
            name=m.name, description=m.description, scope=m.scope, evidence=m.evidence,
            failures=m.failures, corrections=m.corrections,
            evaluators=[e.name for e in evaluators.covering(m.name)],
            covered=any(e.status == "gating" for e in evaluators.covering(m.name)),
            shared_by_users=users_of.get(m.name, 1),
        ) for m in evaluators.modes],
        covered_modes=covered, tracked_modes=tracked, accepted_outputs=evaluators.passes,
        program_failure_modes=[pb.ProgramFailureMode(
            name=m.name, description=m.description, users=m.users, evidence=m.evidence)
            for m in program_modes] if admin else [],
    )
    for entry in evaluators.log:
        _stamp(message.log.add(text=entry.text).at, entry.at)
    if evaluators.updated_at:
        _stamp(message.updated_at, evaluators.updated_at)
    return message
