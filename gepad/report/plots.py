"""The report's plots, drawn by matplotlib as inline SVG.

matplotlib because it is the most widely kept plotting library for Python, and its SVG backend
draws text as paths: the plot is plain markup inside the page, needs no script, no font and no
network to be seen, and looks the same in every browser. It is imported only when a report is
made (the daemon never loads it).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

__all__ = ["bar_svg", "line_svg"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _svg(figure: object) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight",  # type: ignore[attr-defined]
                   metadata={"Date": None, "Creator": None})
    plt.close(figure)  # type: ignore[arg-type]
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # without the XML prolog and doctype: inline markup


def _axes(title: str, ylabel: str) -> tuple[object, object]:
    import matplotlib

    matplotlib.use("Agg")  # no display: a report is drawn anywhere, a daemon's host included
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 3.0), dpi=96)
    axes.set_title(title, fontsize=11)
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    return figure, axes


def line_svg(title: str, ylabel: str, labels: Sequence[str],
             series: Sequence[tuple[str, Sequence[float | None]]]) -> str:
    """One line per series over the rounds; a missing value is a gap."""
    figure, axes = _axes(title, ylabel)
    xs = list(range(1, len(labels) + 1))
    for (name, values), colour in zip(series, _COLOURS, strict=False):
        ys = [math.nan if v is None else v for v in values]
        axes.plot(xs, ys, marker="o", label=name, color=colour)  # type: ignore[attr-defined]
    axes.set_xticks(xs, labels, rotation=30, ha="right", fontsize=8)  # type: ignore[attr-defined]
    axes.set_ylim(-0.02, 1.02)  # type: ignore[attr-defined]
    axes.set_xlabel("round")  # type: ignore[attr-defined]
    axes.legend(loc="lower right", fontsize=8)  # type: ignore[attr-defined]
    return _svg(figure)


def bar_svg(title: str, ylabel: str, labels: Sequence[str],
            series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """Grouped bars per round."""
    figure, axes = _axes(title, ylabel)
    width = 0.8 / max(len(series), 1)
    xs = list(range(1, len(labels) + 1))
    for n, ((name, values), colour) in enumerate(zip(series, _COLOURS, strict=False)):
        offset = (n - (len(series) - 1) / 2) * width
        axes.bar([x + offset for x in xs], values, width, label=name,  # type: ignore[attr-defined]
                 color=colour)
    axes.set_xticks(xs, labels, rotation=30, ha="right", fontsize=8)  # type: ignore[attr-defined]
    axes.set_xlabel("round")  # type: ignore[attr-defined]
    axes.legend(loc="upper left", fontsize=8)  # type: ignore[attr-defined]
    return _svg(figure)
