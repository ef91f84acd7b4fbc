"""The decisions a step makes that a different search could make differently, as small named
parts: which frontier member to improve, which of its components, and whether a child earns
its place. `Strategies` bundles them; `step(..., strategies=...)` takes another bundle.

The defaults are GEPA's: a parent drawn in proportion to the val instances it wins, components in
turn, a reflection child kept when it beats its parent on the minibatch, a merge kept when it is
at least as good as the better of its two parents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .model import Candidate
from .pareto import Frontier

__all__ = [
    "AtLeastBestParent",
    "BeatsParent",
    "ComponentChoice",
    "ComponentsInTurn",
    "MergeAcceptance",
    "ParentChoice",
    "ParetoWeighted",
    "ReflectionAcceptance",
    "Strategies",
]


class ParentChoice(Protocol):
    def choose(self, front: Frontier, rng: np.random.Generator) -> int:
        """The row index of the member to improve; ``front`` is never empty."""
        ...


class ComponentChoice(Protocol):
    def choose(self, parent: Candidate, turn: int) -> str:
        """The component of ``parent`` to rewrite; ``turn`` counts the choices made so far
        (kept in the engine state, so it survives a restart)."""
        ...


class ReflectionAcceptance(Protocol):
    def accepts(self, parent: Sequence[float], child: Sequence[float]) -> bool:
        """Whether a child earns a val evaluation, from both aggregates on the same minibatch."""
        ...


class MergeAcceptance(Protocol):
    def accepts(
        self, left: Sequence[float], right: Sequence[float], child: Sequence[float]
    ) -> bool: ...


class ParetoWeighted:
    """A member drawn with probability proportional to the val instances it wins: the best on
    many instances get most of the budget, a specialist that wins a few keeps a chance."""

    def choose(self, front: Frontier, rng: np.random.Generator) -> int:
        weights = front.weights.astype(np.float64)
        return int(front.members[int(rng.choice(len(front), p=weights / weights.sum()))])


class ComponentsInTurn:
    """Each component in name order, one after another."""

    def choose(self, parent: Candidate, turn: int) -> str:
        names = sorted(parent.components)
        return names[turn % len(names)]


class BeatsParent:
    """Strictly better than the parent in total over the minibatch."""

    def accepts(self, parent: Sequence[float], child: Sequence[float]) -> bool:
        return sum(child) > sum(parent)


class AtLeastBestParent:
    """No worse in total than the better parent over the minibatch."""

    def accepts(
        self, left: Sequence[float], right: Sequence[float], child: Sequence[float]
    ) -> bool:
        return sum(child) >= max(sum(left), sum(right))


@dataclass(frozen=True)
class Strategies:
    parent: ParentChoice = field(default_factory=ParetoWeighted)
    component: ComponentChoice = field(default_factory=ComponentsInTurn)
    reflection: ReflectionAcceptance = field(default_factory=BeatsParent)
    merge: MergeAcceptance = field(default_factory=AtLeastBestParent)
