"""What an adapter target last confirmed it delivered: the served prompt's candidate and version
per user and program. Kept so that a restart neither delivers a version again nor skips one that
changed while gepad was down."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DeliveryRecord"]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    target: str  # the [[adapters]] table's name
    user_id: str
    program: str
    candidate_id: str
    version: int  # the served version that was delivered
    delivered_at: float
