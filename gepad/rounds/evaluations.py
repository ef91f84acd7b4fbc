"""Evaluations to and from the JSON kept in the ``evaluations`` table."""

from __future__ import annotations

import json
from typing import Any

from gepad.engine import EvalKey, Evaluation

__all__ = ["evaluation_from_json", "evaluation_row"]


def evaluation_row(ev: Evaluation) -> tuple[str, str, str, str]:
    """(content hash, example id, evaluator key, payload): the example's fingerprint is part of
    the evaluator key, so a verdict on an example that has since grown is never reused."""
    payload = {
        "key": [ev.key.content_hash, ev.key.example_id, ev.key.evaluator_version,
                ev.key.example_fingerprint],
        "split": ev.split, "output": ev.output, "scores": dict(ev.scores),
        "aggregate": ev.aggregate, "feedback": ev.feedback, "trace": dict(ev.trace),
        "tokens": ev.tokens, "cost_usd": ev.cost_usd, "llm_calls": ev.llm_calls,
        "rollouts": ev.rollouts, "candidate_id": ev.candidate_id, "created_at": ev.created_at,
    }
    return (
        ev.key.content_hash,
        ev.key.example_id,
        f"{ev.key.evaluator_version}#{ev.key.example_fingerprint}",
        json.dumps(payload, ensure_ascii=False, default=str),
    )


def evaluation_from_json(text: str) -> Evaluation:
    data: dict[str, Any] = json.loads(text)
    chash, example, version, fingerprint = data["key"]
    return Evaluation(
        key=EvalKey(chash, example, version, fingerprint),
        split=data["split"], output=data["output"], scores=data["scores"],
        aggregate=float(data["aggregate"]), feedback=data["feedback"], trace=data["trace"],
        tokens=int(data["tokens"]), cost_usd=float(data["cost_usd"]),
        llm_calls=int(data["llm_calls"]), rollouts=int(data["rollouts"]),
        candidate_id=data["candidate_id"], created_at=float(data["created_at"]),
    )
