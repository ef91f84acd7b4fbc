"""Tables and summaries for ``python -m bench engine`` (see ``bench.engine_vs_gepa``)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bench.engine_cpu import CpuResult
from bench.report import fmt, median, table
from bench.world.progress import Trajectory

if TYPE_CHECKING:
    from bench.engine_vs_gepa import CallsSeed, IncSeed, Settings, WallSeed

INF = math.inf


def _paired(diffs: Sequence[float]) -> str:
    """Mean of paired differences with its standard error, so "equal" is a claim with a size."""
    if len(diffs) < 2:
        return f"{statistics.fmean(diffs):+.3f}" if diffs else "-"
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    return f"{statistics.fmean(diffs):+.3f} ± {se:.3f} (n={len(diffs)})"


def _reach_text(calls: float, budget: int) -> str:
    return f">{budget}" if calls == INF else f"{calls:.0f}"


def _ratio_text(value: float) -> str:
    return "never" if value == INF else f"{value:.2f}"


def _curve(trajs: Sequence[Trajectory], grid: Sequence[int]) -> list[float]:
    return [median([t.score_at(c) for t in trajs]) for c in grid]


def _first_reach(curve: Sequence[float], grid: Sequence[int], target: float) -> float:
    for c, v in zip(grid, curve, strict=True):
        if v >= target - 1e-9:
            return float(c)
    return INF


def child_val_line(children: Sequence[Sequence[int]], s: Settings) -> str:
    """gepad's val calls per accepted child (all runs pooled) and children per run."""
    pooled = [c for run in children for c in run]
    if not pooled:
        return "gepad accepted no child"
    return (
        f"gepad ({s.val_scoring} val scoring): val calls per accepted child median "
        f"{median(pooled):.0f}, mean {statistics.fmean(pooled):.1f} over {len(pooled)} children; "
        f"accepted children per run median {median([len(r) for r in children]):.1f}"
    )


def report_calls(rows: list[CallsSeed], s: Settings, peers: Sequence[str]) -> str:
    both = len(peers) == 2
    out = [
        f"1. Score reached vs metric calls: budget {s.budget} calls each, {len(rows)} users "
        f"(seeds), {s.n_train} train / {s.n_val} val; score = held-out mean judge score "
        f"({s.n_test} test requests) of the best-by-val candidate"
    ]
    head = ["seed", "seed prompt", *(f"{p} final" for p in peers), *(f"{p} calls" for p in peers)]
    if both:
        head += ["gepa reach", "gepad reach", "ratio"]
    body: list[list[object]] = []
    ratios: list[float] = []
    for r in rows:
        t = r.trajectories
        cells: list[object] = [r.seed, r.seed_score, *(t[p].final for p in peers)]
        cells += [t[p].total_calls for p in peers]
        if both:
            # Calls each side needed to reach gepa's final score on this user.
            target = t["gepa"].final
            g = t["gepa"].calls_to_reach(target)
            d = t["gepad"].calls_to_reach(target)
            g_calls = float(g) if g is not None else INF
            d_calls = float(d) if d is not None else INF
            ratios.append(d_calls / g_calls if g_calls else INF)
            cells += [
                _reach_text(g_calls, s.budget),
                _reach_text(d_calls, s.budget),
                _ratio_text(ratios[-1]),
            ]
        body.append(cells)
    out.append(table(head, body))

    grid = list(range(0, s.budget + 1, 10))
    curves = {p: _curve([r.trajectories[p] for r in rows], grid) for p in peers}
    curve_rows = []
    for c in s.checkpoints:
        i = grid.index(c) if c in grid else max(j for j, g in enumerate(grid) if g <= c)
        means = [statistics.fmean(r.trajectories[p].score_at(c) for r in rows) for p in peers]
        curve_rows.append([c, *(curves[p][i] for p in peers), *means])
    out += [
        "",
        table(
            ["calls", *(f"{p} median" for p in peers), *(f"{p} mean" for p in peers)],
            curve_rows,
        ),
    ]
    if "gepad" in peers:
        ours = [r.trajectories["gepad"].final for r in rows]
        out += [
            "",
            child_val_line([r.trajectories["gepad"].child_val_calls for r in rows], s),
            f"gepad final held-out score: median {median(ours):.3f}, mean "
            f"{statistics.fmean(ours):.3f}",
        ]
    if both:
        finals = {p: median([r.trajectories[p].final for r in rows]) for p in peers}
        target = finals["gepa"]
        reach = {p: _first_reach(curves[p], grid, target) for p in peers}
        over = max(r.trajectories["gepa"].total_calls - s.budget for r in rows)
        spent = max(r.trajectories["gepad"].total_calls for r in rows)
        diffs = [r.trajectories["gepad"].final - r.trajectories["gepa"].final for r in rows]
        never = sum(x == INF for x in ratios)
        out += [
            "",
            f"final score: median gepa {finals['gepa']:.3f}, gepad {finals['gepad']:.3f}; "
            f"gepad - gepa per user {_paired(diffs)}",
            f"calls for the median curve to reach gepa's median final ({target:.3f}): "
            f"gepa {_reach_text(reach['gepa'], s.budget)}, gepad "
            f"{_reach_text(reach['gepad'], s.budget)} -> ratio "
            f"{_ratio_text(reach['gepad'] / reach['gepa'] if reach['gepa'] else INF)} "
            "(goal <= 0.5)",
            f"per user, calls to reach gepa's own final: median ratio "
            f"{_ratio_text(median(ratios))}; gepad never reached it on {never} of {len(rows)}",
            f"budget kept: gepad spent at most {spent} of {s.budget}; gepa overshot by up to "
            f"{over} calls",
        ]
    return "\n".join(out)


def report_incremental(rows: list[IncSeed], s: Settings, peers: Sequence[str]) -> str:
    both = len(peers) == 2
    out = [
        f"2. Incremental, {s.days} days, {len(rows)} users: day 0 brings {s.first_day[0]} train + "
        f"{s.first_day[1]} val examples, each later day {s.per_day[0]} + {s.per_day[1]} (how-to "
        f"requests, with their own preferences, start on day 3). gepa re-runs from scratch on all "
        f"data with {s.gepa_day_budget} calls/day; gepad resumes yesterday's state (JSON round "
        f"trip) and runs one round of {s.gepad_day_budget} calls/day"
    ]
    head = ["seed", *(f"{p} calls" for p in peers), *(f"{p} final" for p in peers)]
    body = [[r.seed, *(r.calls[p] for p in peers), *(r.daily[p][-1] for p in peers)] for r in rows]
    out.append(table(head, body))
    days = [[d, *(median([r.daily[p][d] for r in rows]) for p in peers)] for d in range(s.days)]
    out += ["", table(["day", *(f"{p} median score" for p in peers)], days)]
    if "gepad" in peers:
        ours = [r.daily["gepad"][-1] for r in rows]
        out += [
            "",
            child_val_line([r.child_val_calls for r in rows], s),
            f"gepad final held-out score: median {median(ours):.3f}, mean "
            f"{statistics.fmean(ours):.3f}; total calls median "
            f"{median([r.calls['gepad'] for r in rows]):.0f}",
        ]
    if both:
        calls = {p: median([r.calls[p] for r in rows]) for p in peers}
        finals = {p: median([r.daily[p][-1] for r in rows]) for p in peers}
        diffs = [r.daily["gepad"][-1] - r.daily["gepa"][-1] for r in rows]
        out += [
            "",
            f"total calls: median gepa {calls['gepa']:.0f}, gepad {calls['gepad']:.0f} -> ratio "
            f"{calls['gepad'] / calls['gepa']:.2f} (goal <= 0.3)",
            f"final score: median gepa {finals['gepa']:.3f}, gepad {finals['gepad']:.3f}; "
            f"gepad - gepa per user {_paired(diffs)} (goal: equal or better)",
        ]
    return "\n".join(out)


def _per_iter(t: Trajectory, accepted: bool | None = None) -> float:
    xs = [
        w
        for w, a in zip(t.iteration_wall_s, t.iteration_accepted, strict=True)
        if accepted is None or a == accepted
    ]
    return statistics.fmean(xs) if xs else float("nan")


def report_wall(rows: list[WallSeed], s: Settings, peers: Sequence[str]) -> str:
    out = [
        f"3. Wall time per iteration: {s.latency_s * 1000:.0f} ms on every LLM call (task, judge, "
        f"reflection), {s.n_train} train / {s.n_val} val, first {s.wall_iterations} iterations "
        "after the seed's val evaluation; s/iter = mean over iterations, then split by whether "
        "the iteration's child was accepted (and so scored on val)"
    ]
    head = ["seed", "peer", "s/iter", "accepted", "rejected", "n accepted"]
    body: list[list[object]] = []
    for r in rows:
        for p in peers:
            t = r.trajectories[p]
            n = f"{sum(t.iteration_accepted)}/{len(t.iteration_accepted)}"
            body.append([r.seed, p, _per_iter(t), _per_iter(t, True), _per_iter(t, False), n])
    out.append(table(head, body, digits=2))
    if "gepad" in peers:
        for base in (p for p in peers if p != "gepad"):

            def ratios(accepted: bool | None, base: str = base) -> str:
                xs = [
                    _per_iter(r.trajectories["gepad"], accepted)
                    / _per_iter(r.trajectories[base], accepted)
                    for r in rows
                ]
                return fmt(median([x for x in xs if x == x]), 2)

            goal = " (goal <= 0.25)" if base == "gepa" else ""
            out.append(
                f"median ratio gepad / {base}: {ratios(None)}{goal}; accepted iterations "
                f"{ratios(True)}, rejected {ratios(False)}"
            )
    return "\n".join(out)


def report_val_scoring(
    calls: Mapping[str, Sequence[CallsSeed]],
    inc: Mapping[str, Sequence[IncSeed]],
    s: Settings,
) -> str:
    """Full vs progressive val scoring side by side, per scenario. "best val" is the val mean of
    the best-by-val candidate at the end; "final" its held-out score; the last column pairs each
    user's final under one scoring with the same user's under the first."""
    modes = list(calls)
    base = modes[0]
    users = len(calls[base])
    out = [
        f"5. gepad with {' vs '.join(modes)} val scoring, same users and seeds: 1. ({users} "
        f"users, {s.n_val} val, {s.budget} calls) and 2. ({s.days} days, "
        f"{s.gepad_day_budget} calls/day)"
    ]
    head = [
        "scenario", "val scoring", "val calls/child median", "mean", "children/run median",
        "best val median", "final median", "final mean", f"final vs {base} per user",
    ]
    body: list[list[object]] = []
    for name, children, vals, finals in (
        ("calls", {m: [r.trajectories["gepad"].child_val_calls for r in calls[m]] for m in modes},
         {m: [r.trajectories["gepad"].best_val for r in calls[m]] for m in modes},
         {m: [r.trajectories["gepad"].final for r in calls[m]] for m in modes}),
        ("incremental", {m: [r.child_val_calls for r in inc[m]] for m in modes},
         {m: [r.best_val for r in inc[m]] for m in modes},
         {m: [r.daily["gepad"][-1] for r in inc[m]] for m in modes}),
    ):
        for m in modes:
            pooled = [c for run in children[m] for c in run]
            diffs = [a - b for a, b in zip(finals[m], finals[base], strict=True)]
            body.append([
                name, m, median(pooled), statistics.fmean(pooled) if pooled else float("nan"),
                median([len(r) for r in children[m]]), median(vals[m]), median(finals[m]),
                statistics.fmean(finals[m]), "-" if m == base else _paired(diffs),
            ])
    out.append(table(head, body, digits=3))
    grid = list(range(0, s.budget + 1, 10))
    rows = []
    for c in s.checkpoints:
        i = max(j for j, g in enumerate(grid) if g <= c)
        rows.append([c, *(_curve([r.trajectories["gepad"] for r in calls[m]], grid)[i]
                          for m in modes)])
    out += ["", table(["calls", *(f"{m} median" for m in modes)], rows)]
    return "\n".join(out)


def report_cpu(r: CpuResult) -> str:
    head = [
        "pool",
        "steps",
        "median ms",
        "p90 ms",
        "cold ms",
        "accepted ms",
        "state MB",
        "to_json ms",
    ]
    body = [
        [
            f"{r.candidates} x {r.val}",
            r.steps,
            r.median_ms,
            r.p90_ms,
            r.cold_ms,
            r.accepted_median_ms,
            r.state_mb,
            r.to_json_ms,
        ]
    ]
    return "\n".join(
        [
            "4. gepad engine CPU per iteration (process time, instant seams; goal <= 2 ms median)",
            table(head, body, digits=2),
            "median/p90: iterations whose child is rejected on the minibatch (frontier cached); "
            "cold: first step after loading the state from JSON (frontier computed); accepted: "
            f"an iteration whose child is then scored on all {r.val} val examples.",
        ]
    )
