"""Everything needed to resume the engine exactly, serialisable to JSON.

Evaluations are not in here (they can be hundreds of thousands of rows): the daemon stores the
ones each step returns and hands them back through an `EvaluationStore`. The val score matrix is
in here, packed as raw float64, because the frontier needs it in memory every step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .model import Candidate, Usage
from .sampler import SamplerState
from .scores import ScoreMatrix

FORMAT = 1


@dataclass(frozen=True, slots=True)
class MergeState:
    # Unordered pairs (sorted tuples of candidate ids) ever attempted; never retried.
    attempted: frozenset[tuple[str, str]] = frozenset()
    # Merge attempts owed: one is scheduled after each accepted reflection.
    due: int = 0
    total: int = 0
    this_round: int = 0


@dataclass(frozen=True)
class EngineState:
    """Everything a search has learned and must carry to its next step (and across a restart):
    the candidate pool and its val scores, the sampler's and RNG's positions, merge bookkeeping,
    what is owed a val evaluation, and this round's counters. Immutable: a step returns a new
    one."""

    candidates: tuple[Candidate, ...]
    scores: ScoreMatrix
    rng_state: Mapping[str, Any]
    sampler: SamplerState = field(default_factory=SamplerState)
    # Candidates still owed a val evaluation on columns they lack (accepted when the budget ran
    # out, or whose rollouts failed): catch-up completes them before new work.
    pending_val: tuple[str, ...] = ()
    # Candidates progressive val scoring gave up on (see `progressive`): they keep the val scores
    # they have and are owed no more until the val split changes.
    partial_val: frozenset[str] = frozenset()
    component_cursor: int = 0
    merges: MergeState = field(default_factory=MergeState)
    iteration: int = 0
    round_iterations: int = 0
    round_id: str = ""
    usage: Usage = field(default_factory=Usage)
    metric_calls: int = 0
    # Largest (tokens, cost) of a single call per kind ("rollout", "reflection"): the allowance
    # the budget reserves grows to it.
    high_water: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    # Val rollouts that failed this round ("content hash|example id|fingerprint|scorer"): not
    # retried until the next round, so a judge that keeps failing cannot loop a round.
    round_failed: frozenset[str] = frozenset()
    # The scorer (evaluator + runner) version the val matrix was computed with.
    scorer_version: str = ""
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c.id: i for i, c in enumerate(self.candidates)})
        if self.scores.n_rows != len(self.candidates):
            raise ValueError("score matrix rows must match the candidate pool")

    # ------------------------------------------------------------------ construction

    @classmethod
    def initial(cls, seeds: Sequence[Candidate], seed: int = 0) -> EngineState:
        """A fresh state over seed candidates (usually one, origin "seed")."""
        state = cls(
            candidates=(),
            scores=ScoreMatrix(),
            rng_state=np.random.default_rng(seed).bit_generator.state,
        )
        return add_candidates(state, seeds)

    # ------------------------------------------------------------------ queries

    def index(self, candidate_id: str) -> int:
        return self._index[candidate_id]

    def __contains__(self, candidate_id: object) -> bool:
        return candidate_id in self._index

    def candidate(self, candidate_id: str) -> Candidate:
        return self.candidates[self._index[candidate_id]]

    def rng(self) -> np.random.Generator:
        # Seeded constructor (cheap) then the saved state; default_rng() would read OS entropy.
        bits = np.random.PCG64(0)
        bits.state = dict(self.rng_state)  # type: ignore[assignment]
        return np.random.Generator(bits)

    # ------------------------------------------------------------------ serialisation

    def to_json(self) -> str:
        head = json.dumps(
            {
                "format": FORMAT,
                "candidates": [c.to_dict() for c in self.candidates],
                "rng_state": self.rng_state,
                "sampler": self.sampler.to_dict(),
                "pending_val": list(self.pending_val),
                "partial_val": sorted(self.partial_val),
                "component_cursor": self.component_cursor,
                "merges": {
                    "attempted": sorted(list(p) for p in self.merges.attempted),
                    "due": self.merges.due,
                    "total": self.merges.total,
                    "this_round": self.merges.this_round,
                },
                "iteration": self.iteration,
                "round_iterations": self.round_iterations,
                "round_id": self.round_id,
                "usage": [self.usage.tokens, self.usage.cost_usd, self.usage.calls],
                "metric_calls": self.metric_calls,
                "high_water": {k: list(v) for k, v in sorted(self.high_water.items())},
                "round_failed": sorted(self.round_failed),
                "scorer_version": self.scorer_version,
            },
            separators=(",", ":"),
        )
        # The score matrix is spliced in as its cached JSON text (see ScoreMatrix.to_json).
        return f'{head[:-1]},"scores":{self.scores.to_json()}}}'


    @classmethod
    def from_json(cls, text: str) -> EngineState:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"unsupported engine state format {data.get('format')!r}")
        merges = data["merges"]
        tokens, cost, calls = data["usage"]
        return cls(
            candidates=tuple(Candidate.from_dict(c) for c in data["candidates"]),
            scores=ScoreMatrix.from_dict(data["scores"]),
            rng_state=data["rng_state"],
            sampler=SamplerState.from_dict(data["sampler"]),
            pending_val=tuple(data["pending_val"]),
            # States saved before progressive val scoring have none.
            partial_val=frozenset(data.get("partial_val", ())),
            component_cursor=int(data["component_cursor"]),
            merges=MergeState(
                attempted=frozenset((str(a), str(b)) for a, b in merges["attempted"]),
                due=int(merges["due"]),
                total=int(merges["total"]),
                this_round=int(merges["this_round"]),
            ),
            iteration=int(data["iteration"]),
            round_iterations=int(data["round_iterations"]),
            round_id=str(data["round_id"]),
            usage=Usage(int(tokens), float(cost), int(calls)),
            metric_calls=int(data["metric_calls"]),
            high_water={k: (int(v[0]), float(v[1])) for k, v in data["high_water"].items()},
            round_failed=frozenset(data["round_failed"]),
            scorer_version=str(data["scorer_version"]),
        )


def add_candidates(state: EngineState, candidates: Iterable[Candidate]) -> EngineState:
    """Adds seeds or human edits to the pool; they are owed a val evaluation (catch-up does it).

    A candidate already in the pool is ignored, so replaying the same edit is harmless.
    """
    new = [c for c in candidates if c.id not in state]
    if not new:
        return state
    scores = state.scores.copy()
    for _ in new:
        scores.add_row()
    return replace(
        state,
        candidates=state.candidates + tuple(new),
        scores=scores,
        pending_val=state.pending_val + tuple(c.id for c in new),
    )


def new_round(state: EngineState, round_id: str, seed: int | None = None) -> EngineState:
    """Starts a round: per-round counters reset; `seed` (if given) reseeds the RNG for it."""
    rng_state = state.rng_state
    if seed is not None:
        rng_state = np.random.default_rng(seed).bit_generator.state
    return replace(
        state,
        round_id=round_id,
        round_iterations=0,
        merges=replace(state.merges, this_round=0, due=0),
        rng_state=rng_state,
        round_failed=frozenset(),
    )
