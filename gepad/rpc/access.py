"""Who may call each RPC: checked once, by the handler layer, before any handler runs.

Every call is authenticated first (`Authenticator`). Then each RPC's rule from `RULES` applies; an
RPC of the proto without a rule stops the daemon at start-up, so a new RPC cannot be left open.
"""

from __future__ import annotations

import enum

from gepad.rpc.auth import Principal

__all__ = ["RULES", "Rule", "authorize"]


class Rule(enum.Enum):
    ANYONE = "any authenticated caller"
    ADMIN = "admin only"
    USER = "the user named by the request's user_id"
    # The data's user is known only inside the handler (each event of a stream, a run's owner):
    # the handler checks it with `Principal.require_user` / `Principal.can_reach`.
    HANDLER = "checked by the handler"


RULES: dict[str, Rule] = {
    "UpsertProgram": Rule.ADMIN,
    "GetProgram": Rule.ANYONE,
    "ListPrograms": Rule.ANYONE,
    "RecordFeedback": Rule.HANDLER,
    "StreamFeedback": Rule.HANDLER,
    "GetPrompt": Rule.USER,
    "WatchPrompt": Rule.USER,
    "ListLineage": Rule.USER,
    "Rollback": Rule.USER,
    "Unpin": Rule.USER,
    "Evolve": Rule.USER,
    "GetRun": Rule.HANDLER,
    "ListRuns": Rule.USER,
    "WatchRun": Rule.HANDLER,
    "GetFrontier": Rule.USER,
    "GetRubric": Rule.USER,
    "ListEvaluators": Rule.USER,
    # Targets name users and where their prompts go (paths, URLs).
    "ListAdapters": Rule.ADMIN,
    "RecordFeedbackBatch": Rule.HANDLER,
    "IngestFeedback": Rule.HANDLER,
}


def authorize(rpc: str, caller: Principal, request: object) -> None:
    rule = RULES[rpc]
    if rule is Rule.ADMIN:
        caller.require_admin(rpc)
    elif rule is Rule.USER:
        caller.require_user(str(getattr(request, "user_id")))  # noqa: B009 - every USER request has one
