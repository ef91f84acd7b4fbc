"""Budget caps: what a program, an Evolve request and the daemon's defaults each set, their
checks, and how they combine into the caps a round runs under.

Every round is finite on metric calls, tokens and cost, and every user's day is capped: a cap a
program leaves unset (0) is the daemon's default, never "unlimited". An Evolve request may lower
a cap for its round; only an admin may raise one above what the program (or the default) allows,
since a user-scoped token must not be able to spend more than the admin decided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from gepad.errors import InvalidArgument, PermissionDenied

__all__ = ["DEFAULT_CAPS", "BudgetCaps", "check_caps", "effective_caps"]


@dataclass(frozen=True)
class BudgetCaps:
    """Spending caps a program (or one Evolve request) sets; 0 means not set here."""

    max_metric_calls_per_round: int = 0
    max_tokens_per_round: int = 0
    max_cost_usd_per_round: float = 0.0
    max_metric_calls_per_day: int = 0
    max_tokens_per_day: int = 0
    max_cost_usd_per_day: float = 0.0


# The daemon-wide defaults ([budget] in the config file overrides each). The per-day caps are
# per user and program; tokens are capped too because a local model's calls cost nothing in USD.
DEFAULT_CAPS = BudgetCaps(
    max_metric_calls_per_round=300,
    max_tokens_per_round=2_000_000,
    max_cost_usd_per_round=2.0,
    max_metric_calls_per_day=3_000,
    max_tokens_per_day=10_000_000,
    max_cost_usd_per_day=10.0,
)


def check_caps(prefix: str, caps: BudgetCaps) -> None:
    """Refuse a cap that is negative, NaN or infinite (each would silently mean "no cap")."""
    for cap in fields(BudgetCaps):
        value = getattr(caps, cap.name)
        if not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"{prefix}.{cap.name}",
                                  f"must be a finite number >= 0 (0 = the default), got {value}")


def effective_caps(program: BudgetCaps, defaults: BudgetCaps, request: BudgetCaps = BudgetCaps(),
                   *, may_raise: bool = False) -> BudgetCaps:
    """The caps a round runs under: the program's, else the daemon's default, lowered by the
    request; a request above them is refused unless ``may_raise`` (an admin's request)."""
    values: dict[str, Any] = {}
    for cap in fields(BudgetCaps):
        base = getattr(program, cap.name) or getattr(defaults, cap.name)
        wanted = getattr(request, cap.name)
        if wanted and base and wanted > base and not may_raise:
            raise PermissionDenied(
                f"budget.{cap.name}: {wanted} is above this program's cap ({base}); a request "
                "may only lower a cap, and only an admin may raise one"
            )
        values[cap.name] = wanted or base
    return replace(BudgetCaps(), **values)
