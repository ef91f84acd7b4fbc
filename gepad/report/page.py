"""The report page: plain records in, one self-contained HTML document out.

Everything users wrote (prompts, failure-mode descriptions, run messages) is escaped: it is
data, and a prompt holding markup must show as text, never run. The page has no script and loads
nothing: styles are inline and plots are inline SVG (plots.py).
"""

from __future__ import annotations

import difflib
import html
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .plots import bar_svg, line_svg

__all__ = [
    "EvaluatorRow",
    "FrontierRow",
    "ModeRow",
    "ReportData",
    "RoundRow",
    "prompt_diff",
    "render_report",
]


@dataclass(frozen=True)
class RoundRow:
    run_id: str
    started_at: float
    status: str
    promoted: bool
    best_val: float
    served_val: float | None  # the prompt served after the round, scored on today's val set
    metric_calls: int
    llm_calls: int
    cost_usd: float
    message: str


@dataclass(frozen=True)
class FrontierRow:
    candidate_id: str
    origin: str
    val_score: float
    instances_won: int
    val_coverage: int
    served: bool


@dataclass(frozen=True)
class EvaluatorRow:
    name: str
    kind: str
    status: str
    failure_mode: str
    version: str
    figures: str
    reason: str


@dataclass(frozen=True)
class ModeRow:
    name: str
    description: str
    failures: int
    corrections: int
    covered: bool
    evaluators: tuple[str, ...]


@dataclass(frozen=True)
class ReportData:
    user_id: str
    program: str
    served_id: str
    served_version: int
    pinned: bool
    rounds: Sequence[RoundRow] = ()  # oldest first
    lineage: Sequence[str] = ()  # the tree, as `gepad lineage` draws it
    history: Sequence[str] = ()
    frontier: Sequence[FrontierRow] = ()
    evaluators: Sequence[EvaluatorRow] = ()
    modes: Sequence[ModeRow] = ()
    coverage: tuple[int, int] = (0, 0)
    diff: Sequence[str] = ()  # the served prompt against the one before it (unified diff)
    diff_title: str = ""
    generated_at: float = field(default_factory=time.time)


def prompt_diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for name in sorted(set(before) | set(after)):
        lines += difflib.unified_diff(
            before.get(name, "").splitlines(), after.get(name, "").splitlines(),
            fromfile=f"{name} (before)", tofile=f"{name} (served)", lineterm="")
    return lines


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.gating { color: #1a7f37; font-weight: bold; } .advisory { color: #9a6700; }
.off { color: #cf222e; }
.add { color: #1a7f37; } .del { color: #cf222e; } .hunk { color: #8250df; }
.note { color: #555; font-size: 0.9em; } figure { margin: 1em 0; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds)) if seconds else "-"


def _rounds(data: ReportData) -> str:
    if not data.rounds:
        return '<p class="note">No rounds yet.</p>'
    labels = [f"{n}" for n in range(1, len(data.rounds) + 1)]
    scores = line_svg("Served and best val score per round", "val score", labels, [
        ("served prompt", [r.served_val for r in data.rounds]),
        ("best val candidate", [r.best_val for r in data.rounds]),
    ])
    calls = bar_svg("Calls per round", "calls", labels, [
        ("metric calls", [float(r.metric_calls) for r in data.rounds]),
        ("LLM calls", [float(r.llm_calls) for r in data.rounds]),
    ])
    rows = [[str(n), _e(_when(r.started_at)), _e(r.run_id), _e(r.status),
             "yes" if r.promoted else "no", f"{r.best_val:.3f}",
             "-" if r.served_val is None else f"{r.served_val:.3f}", str(r.metric_calls),
             str(r.llm_calls), f"${r.cost_usd:.4f}", _e(r.message)]
            for n, r in enumerate(data.rounds, 1)]
    table = _table(["#", "started", "run", "status", "promoted", "best val", "served val",
                    "metric calls", "LLM calls", "cost", "message"], rows, {0, 5, 6, 7, 8, 9})
    return (f'<figure id="score-plot">{scores}<figcaption class="note">The served prompt\'s '
            "score is on today's val set (a round that promoted nothing keeps the prompt before "
            f"it).</figcaption></figure>\n<figure id=\"calls-plot\">{calls}</figure>\n{table}")


def _evaluators(data: ReportData) -> str:
    covered, tracked = data.coverage
    share = f"{covered / tracked:.0%}" if tracked else "n/a"
    head = (f"<p><strong>Eval coverage: {covered} of {tracked} failure modes</strong> have a "
            f"gating (calibrated) evaluator ({share}).</p>")
    if not any(e.status == "gating" for e in data.evaluators):
        head += ('<p class="note">Cold start: no evaluator is calibrated to gate yet, so '
                 "promotion is decided by the built-in evaluators, as advisory ones.</p>")
    rows = [[_e(e.name), _e(e.kind), f'<span class="{_e(e.status)}">{_e(e.status)}</span>',
             _e(e.failure_mode or "(everything)"), _e(e.version), _e(e.figures), _e(e.reason)]
            for e in data.evaluators]
    evaluators = _table(["evaluator", "kind", "status", "failure mode", "version",
                         "calibration", "why"], rows, set()) if rows else \
        '<p class="note">No evaluator calibrated yet.</p>'
    mode_rows = [[_e(m.name), _e(m.description), str(m.failures), str(m.corrections),
                  "yes" if m.covered else "no", _e(", ".join(m.evaluators) or "-")]
                 for m in data.modes]
    modes = _table(["failure mode", "description", "failures", "corrections", "covered",
                    "evaluators"], mode_rows, {2, 3}) if mode_rows else \
        '<p class="note">No failure modes yet.</p>'
    return f"{head}\n{evaluators}\n<h3>Failure modes</h3>\n{modes}"


def _frontier(data: ReportData) -> str:
    if not data.frontier:
        return '<p class="note">No frontier yet.</p>'
    rows = [[_e(f.candidate_id) + (" ◀ served" if f.served else ""), _e(f.origin),
             f"{f.val_score:.3f}", str(f.instances_won), str(f.val_coverage)]
            for f in data.frontier]
    return _table(["candidate", "origin", "val score", "instances won", "val examples"], rows,
                  {2, 3, 4})


def _diff(data: ReportData) -> str:
    if not data.diff:
        return '<p class="note">The served prompt has not changed yet.</p>'
    out = []
    for line in data.diff:
        css = ("hunk" if line.startswith("@@") else "add" if line.startswith("+")
               else "del" if line.startswith("-") else "")
        out.append(f'<span class="{css}">{_e(line)}</span>' if css else _e(line))
    return f'<p>{_e(data.diff_title)}</p><pre id="prompt-diff">' + "\n".join(out) + "</pre>"


def render_report(data: ReportData) -> str:
    pinned = " (pinned)" if data.pinned else ""
    title = f"gepad report: {data.user_id} / {data.program}"
    sections = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="note">Made {_e(_when(data.generated_at))}. Served: '
        f"<code>{_e(data.served_id)}</code>, version {data.served_version}{_e(pinned)}.</p>",
        "<h2>Rounds</h2>", _rounds(data),
        "<h2>Evaluators and failure modes</h2>", _evaluators(data),
        "<h2>Served prompt: what changed</h2>", _diff(data),
        "<h2>Lineage</h2>",
        '<pre id="lineage">' + _e("\n".join(data.lineage) or "(no candidates yet)") + "</pre>",
        "<h3>Served history</h3>",
        "<pre>" + _e("\n".join(data.history) or "(nothing served yet)") + "</pre>",
        "<h2>Frontier</h2>", _frontier(data),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>\n"
            + "\n".join(sections) + "\n</body></html>\n")
