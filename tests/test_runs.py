from __future__ import annotations

import json

from gepad.programs import BudgetCaps
from gepad.runs import Run, run_from_json, run_to_json


def test_a_run_record_comes_back_whole_with_the_requests_own_settings() -> None:
    run = Run("r1", "u", "p", "manual", status="succeeded", iterations=3, accepted=2, merges=1,
              frontier_size=2, best_val_score=0.75, metric_calls=12, llm_calls=20, tokens=900,
              cost_usd=0.5, budget=BudgetCaps(max_metric_calls_per_round=40), promoted=True,
              promoted_candidate_id="c9", message="promoted c9", started_at=10.0,
              finished_at=11.5, max_iterations=7, seed=42)
    back = run_from_json(run_to_json(run), status="succeeded", started_at=10.0, finished_at=11.5)
    assert back == run
    # Status and times are the columns' (a step rewrites the JSON, the end writes finished_at).
    later = run_from_json(run_to_json(run), status="failed", started_at=10.0, finished_at=None)
    assert (later.status, later.finished_at, later.finished) == ("failed", None, True)


def test_a_run_stored_by_an_older_gepad_as_protobuf_json_still_reads() -> None:
    old = {"runId": "r2", "userId": "u", "program": "p", "trigger": "schedule",
           "status": "RUN_STATUS_SUCCEEDED", "iterations": 4, "metricCalls": "30",
           "llmCalls": "31", "tokens": "1200", "costUsd": 0.25, "bestValScore": 0.5,
           "promoted": True, "promotedCandidateId": "c1", "message": "promoted c1",
           "budget": {"maxMetricCallsPerRound": "60", "maxCostUsdPerDay": 2.0},
           "startedAt": "2026-01-01T00:00:00Z", "_overrides": {"max_iterations": 5, "seed": 9}}
    run = run_from_json(json.dumps(old), status="succeeded", started_at=5.0, finished_at=6.0)
    assert run == Run("r2", "u", "p", "schedule", status="succeeded", iterations=4,
                      metric_calls=30, llm_calls=31, tokens=1200, cost_usd=0.25,
                      best_val_score=0.5, promoted=True, promoted_candidate_id="c1",
                      message="promoted c1",
                      budget=BudgetCaps(max_metric_calls_per_round=60, max_cost_usd_per_day=2.0),
                      started_at=5.0, finished_at=6.0, max_iterations=5, seed=9)
