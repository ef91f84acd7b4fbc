"""The val score matrix: candidates × val examples, NaN where a candidate is not scored yet.

Kept as preallocated numpy arrays that grow geometrically, so adding a candidate or a val
example is amortised O(row) and the frontier never rebuilds the matrix from rows of dicts.
Treated as immutable once it is inside an `EngineState`: writers work on `copy()`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class ScoreMatrix:
    def __init__(self, n_rows: int = 0, columns: Sequence[tuple[str, str]] = ()) -> None:
        self._n_rows = n_rows
        self._cols: list[str] = [c for c, _ in columns]
        self._fps: list[str] = [f for _, f in columns]
        self._col_index = {c: i for i, c in enumerate(self._cols)}
        self._agg = _nan((max(n_rows, 4), max(len(self._cols), 4)))
        self._dims: dict[str, FloatArray] = {}
        self.version = 0
        self._frontier_cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ shape

    @property
    def n_rows(self) -> int:
        return self._n_rows

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._cols)

    @property
    def fingerprints(self) -> tuple[str, ...]:
        return tuple(self._fps)

    @property
    def signature(self) -> frozenset[tuple[str, str]]:
        """(example id, fingerprint) of every column; compare with `Dataset.val_signature`."""
        sig = self._frontier_cache.get("__signature__")
        if sig is None:
            sig = frozenset(zip(self._cols, self._fps, strict=True))
            self._frontier_cache["__signature__"] = sig
        return sig

    def column(self, example_id: str) -> int | None:
        return self._col_index.get(example_id)

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(sorted(self._dims))

    @property
    def aggregate(self) -> FloatArray:
        """A read-only view of the used part (rows × columns)."""
        view = self._agg[: self._n_rows, : len(self._cols)]
        view.flags.writeable = False
        return view

    def dimension(self, name: str) -> FloatArray:
        view = self._dims[name][: self._n_rows, : len(self._cols)]
        view.flags.writeable = False
        return view

    # ------------------------------------------------------------------ writes (on copies)

    def copy(self) -> ScoreMatrix:
        other = ScoreMatrix.__new__(ScoreMatrix)
        other._n_rows = self._n_rows
        other._cols = list(self._cols)
        other._fps = list(self._fps)
        other._col_index = dict(self._col_index)
        other._agg = self._agg.copy()
        other._dims = {k: v.copy() for k, v in self._dims.items()}
        other.version = self.version
        # Derived results stay valid until the copy is written to.
        other._frontier_cache = dict(self._frontier_cache)
        return other

    def _touch(self) -> None:
        self.version += 1
        self._frontier_cache.clear()

    def add_row(self) -> int:
        self._touch()
        if self._n_rows == self._agg.shape[0]:
            self._agg = _grow(self._agg, rows=True)
            self._dims = {k: _grow(v, rows=True) for k, v in self._dims.items()}
        self._n_rows += 1
        return self._n_rows - 1

    def add_columns(self, columns: Iterable[tuple[str, str]]) -> None:
        for example_id, fingerprint in columns:
            if example_id in self._col_index:
                raise ValueError(f"column {example_id!r} exists")
            self._touch()
            if len(self._cols) == self._agg.shape[1]:
                self._agg = _grow(self._agg, rows=False)
                self._dims = {k: _grow(v, rows=False) for k, v in self._dims.items()}
            self._col_index[example_id] = len(self._cols)
            self._cols.append(example_id)
            self._fps.append(fingerprint)

    def reset_column(self, example_id: str, fingerprint: str) -> None:
        """The example changed: every score on it is stale."""
        self._touch()
        j = self._col_index[example_id]
        self._fps[j] = fingerprint
        self._agg[:, j] = np.nan
        for arr in self._dims.values():
            arr[:, j] = np.nan

    def drop_columns(self, example_ids: Iterable[str]) -> None:
        drop = {self._col_index[e] for e in example_ids if e in self._col_index}
        if not drop:
            return
        self._touch()
        keep = [j for j in range(len(self._cols)) if j not in drop]
        n = len(keep)
        cap = max(self._agg.shape[1], 4)

        def compact(arr: FloatArray) -> FloatArray:
            out = _nan((arr.shape[0], cap))
            out[:, :n] = arr[:, keep]
            return out

        self._agg = compact(self._agg)
        self._dims = {k: compact(v) for k, v in self._dims.items()}
        self._cols = [self._cols[j] for j in keep]
        self._fps = [self._fps[j] for j in keep]
        self._col_index = {c: i for i, c in enumerate(self._cols)}

    def set(self, row: int, col: int, aggregate: float, scores: Mapping[str, float]) -> None:
        self._touch()
        self._agg[row, col] = aggregate
        for name, value in scores.items():
            arr = self._dims.get(name)
            if arr is None:
                arr = _nan(self._agg.shape)
                self._dims[name] = arr
            arr[row, col] = value

    # ------------------------------------------------------------------ derived-result cache

    def cached(self, key: str) -> Any:
        return self._frontier_cache.get(key)

    def remember(self, key: str, value: Any) -> None:
        self._frontier_cache[key] = value

    # ------------------------------------------------------------------ serialisation

    def to_json(self) -> str:
        """`to_dict` as JSON, cached until the next write.

        The packed arrays are the bulk of a saved state (megabytes); steps that write nothing
        (most rejected iterations) reuse the string instead of re-encoding it.
        """
        text = self._frontier_cache.get("__json__")
        if text is None:
            text = json.dumps(self.to_dict(), separators=(",", ":"))
            self._frontier_cache["__json__"] = text
        return str(text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self._n_rows,
            "columns": list(self._cols),
            "fingerprints": list(self._fps),
            "aggregate": _pack(self.aggregate),
            "dimensions": {k: _pack(self.dimension(k)) for k in sorted(self._dims)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreMatrix:
        columns = list(zip(data["columns"], data["fingerprints"], strict=True))
        matrix = cls(int(data["rows"]), columns)
        shape = (matrix._n_rows, len(columns))
        matrix._agg[: shape[0], : shape[1]] = _unpack(data["aggregate"], shape)
        for name, blob in data["dimensions"].items():
            arr = _nan(matrix._agg.shape)
            arr[: shape[0], : shape[1]] = _unpack(blob, shape)
            matrix._dims[name] = arr
        return matrix


def _nan(shape: tuple[int, int]) -> FloatArray:
    return np.full(shape, np.nan, dtype=np.float64)


def _grow(arr: FloatArray, *, rows: bool) -> FloatArray:
    r, c = arr.shape
    out = _nan((r * 2, c) if rows else (r, c * 2))
    out[:r, :c] = arr
    return out


def _pack(arr: FloatArray) -> str:
    # Raw little-endian float64: exact (resume must reproduce bit-identical scores) and fast.
    return base64.b64encode(np.ascontiguousarray(arr, dtype="<f8").tobytes()).decode("ascii")


def _unpack(blob: str, shape: tuple[int, int]) -> FloatArray:
    raw = np.frombuffer(base64.b64decode(blob), dtype="<f8")
    return raw.reshape(shape).astype(np.float64)
