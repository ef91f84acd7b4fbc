"""How to reach one model: the per-role settings a Program carries (task, reflection, judge)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelSettings:
    model: str
    api_base: str | None = None
    # Name of the environment variable holding the key; the key itself is never stored.
    api_key_env: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = 60.0
    # Attempts after the first one, on transient errors only.
    retries: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0

    @property
    def version(self) -> str:
        """Changes when anything that shapes the model's answers changes (not timeouts/keys)."""
        blob = json.dumps(
            {"model": self.model, "api_base": self.api_base or "", "params": dict(self.params)},
            sort_keys=True,
            default=str,
        )
        return f"{self.model}#{hashlib.sha256(blob.encode()).hexdigest()[:10]}"
