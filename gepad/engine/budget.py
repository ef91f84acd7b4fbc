"""Hard budgets: calls, tokens and cost are reserved before they are spent.

A step gets any number of `Budget`s (say, this round's and today's) and must respect all of them.
Metric calls are exact. Tokens and cost are unknown until a call returns, so each call reserves an
allowance first (see `EngineConfig`); a token or cost cap can only be overshot by a single call
that costs more than its allowance, and the allowance grows to the largest call seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .model import Usage


@dataclass(frozen=True, slots=True)
class Budget:
    """Caps (None = unlimited) and what has been spent against them."""

    max_metric_calls: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    metric_calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0

    def exhausted(self) -> bool:
        return (
            (self.max_metric_calls is not None and self.metric_calls >= self.max_metric_calls)
            or (self.max_tokens is not None and self.tokens >= self.max_tokens)
            or (self.max_cost_usd is not None and self.cost_usd >= self.max_cost_usd)
        )

    def to_dict(self) -> dict[str, int | float | None]:
        return {
            "max_metric_calls": self.max_metric_calls,
            "max_tokens": self.max_tokens,
            "max_cost_usd": self.max_cost_usd,
            "metric_calls": self.metric_calls,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "llm_calls": self.llm_calls,
        }


@dataclass(frozen=True, slots=True)
class Spend:
    """A request against the budgets: metric calls plus token and cost allowances."""

    metric_calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            self.metric_calls + other.metric_calls,
            self.tokens + other.tokens,
            self.cost_usd + other.cost_usd,
        )

    def times(self, n: int) -> Spend:
        return Spend(self.metric_calls * n, self.tokens * n, self.cost_usd * n)


class Ledger:
    """Tracks spent and reserved amounts over several budgets for the duration of one step."""

    def __init__(self, budgets: Sequence[Budget]) -> None:
        self._budgets = list(budgets)
        self._reserved = Spend()
        self.usage = Usage()
        self.metric_calls = 0

    def fits(self, want: Spend) -> bool:
        total = self._reserved + want
        for b in self._budgets:
            if b.max_metric_calls is not None and (
                b.metric_calls + total.metric_calls > b.max_metric_calls
            ):
                return False
            if b.max_tokens is not None and b.tokens + total.tokens > b.max_tokens:
                return False
            if b.max_cost_usd is not None and b.cost_usd + total.cost_usd > b.max_cost_usd:
                return False
        return True

    def reserve(self, want: Spend) -> Reservation | None:
        if not self.fits(want):
            return None
        self._reserved = self._reserved + want
        return Reservation(self, want)

    def affordable(self, unit: Spend, wanted: int) -> int:
        """The largest n <= wanted such that n units fit (units are independent rollouts)."""
        lo, hi = 0, wanted
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.fits(unit.times(mid)):
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _settle(self, reserved: Spend, metric_calls: int, usage: Usage) -> None:
        self._reserved = Spend(
            self._reserved.metric_calls - reserved.metric_calls,
            self._reserved.tokens - reserved.tokens,
            self._reserved.cost_usd - reserved.cost_usd,
        )
        self.metric_calls += metric_calls
        self.usage = self.usage + usage
        self._budgets = [
            replace(
                b,
                metric_calls=b.metric_calls + metric_calls,
                tokens=b.tokens + usage.tokens,
                cost_usd=b.cost_usd + usage.cost_usd,
                llm_calls=b.llm_calls + usage.calls,
            )
            for b in self._budgets
        ]

    @property
    def budgets(self) -> tuple[Budget, ...]:
        return tuple(self._budgets)


class Reservation:
    """Held allowance; `charge` books actual spending, `close` returns whatever is left."""

    def __init__(self, ledger: Ledger, held: Spend) -> None:
        self._ledger = ledger
        self._held = held
        self._open = True

    def charge(self, metric_calls: int, usage: Usage) -> None:
        """Books what was spent; the matching part of the allowance is released."""
        if not self._open:
            raise RuntimeError("reservation already closed")
        if metric_calls > self._held.metric_calls:
            # Metric calls are exact: spending one that was not reserved is an engine bug.
            raise RuntimeError("metric calls spent beyond the reservation")
        release = Spend(
            min(metric_calls, self._held.metric_calls),
            min(usage.tokens, self._held.tokens),
            min(usage.cost_usd, self._held.cost_usd),
        )
        self._held = Spend(
            self._held.metric_calls - release.metric_calls,
            self._held.tokens - release.tokens,
            self._held.cost_usd - release.cost_usd,
        )
        self._ledger._settle(release, metric_calls, usage)

    def close(self) -> None:
        if self._open:
            self._ledger._settle(self._held, 0, Usage())
            self._open = False
