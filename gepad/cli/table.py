"""Plain-text tables: a header row, aligned columns, numbers flush right."""

from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = ["render_table"]


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[int] = (),
    gap: str = "  ",
) -> list[str]:
    """Lines of a table; ``right`` holds the indexes of right-aligned (numeric) columns."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def fmt(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return gap.join(parts).rstrip()

    return [fmt(headers), *(fmt(row) for row in rows)]
