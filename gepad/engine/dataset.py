"""The per-user dataset as the engine sees it: examples indexed by id and split."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property

from .model import Example, Split


class Dataset:
    """An immutable snapshot. Ids in each split are sorted so order never depends on the caller."""

    def __init__(self, examples: Iterable[Example], rubric: Sequence[str] = ()) -> None:
        # What the user asked for across all their feedback, one item per entry: quoted to the
        # reflection LM beside each record's own comments.
        self.rubric = tuple(rubric)
        self._by_id: dict[str, Example] = {}
        for example in examples:
            if example.id in self._by_id:
                raise ValueError(f"duplicate example id {example.id!r}")
            self._by_id[example.id] = example
        splits: dict[Split, list[str]] = {"train": [], "val": [], "gate": []}
        for example in self._by_id.values():
            splits[example.split].append(example.id)
        self.train_ids: tuple[str, ...] = tuple(sorted(splits["train"]))
        self.val_ids: tuple[str, ...] = tuple(sorted(splits["val"]))
        self.gate_ids: tuple[str, ...] = tuple(sorted(splits["gate"]))

    def __getitem__(self, example_id: str) -> Example:
        return self._by_id[example_id]

    def __contains__(self, example_id: object) -> bool:
        return example_id in self._by_id

    def __iter__(self) -> Iterator[Example]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def ids(self, split: Split) -> tuple[str, ...]:
        return {"train": self.train_ids, "val": self.val_ids, "gate": self.gate_ids}[split]

    @cached_property
    def train_set(self) -> frozenset[str]:
        return frozenset(self.train_ids)

    @cached_property
    def val_signature(self) -> frozenset[tuple[str, str]]:
        """(id, fingerprint) of every val example: equal signatures mean nothing to sync."""
        return frozenset((e, self._by_id[e].fingerprint) for e in self.val_ids)
