"""gepad's engine against gepa 0.1.4 on the same simulated world, budgets and seeds.

    python -m bench engine            # full run (about 4 minutes on 2 cores)
    python -m bench engine --quick    # smoke run
    python -m bench engine --only calls,wall --seeds 0,1,2 --peers gepad
    python -m bench engine --only calls,incremental --peers gepad --val-scoring full

Four measurements, each reported per seed and summarized over seeds:
1. calls: held-out score of the best-by-val candidate vs metric calls, one budget for both;
   calls-to-reach gepa's final score (goal: gepad <= 0.5x gepa's).
2. incremental: 7 days of arriving feedback; gepa re-runs from scratch on all data each day,
   gepad resumes its (JSON round-tripped) state and runs one budgeted round per day
   (goal: <= 0.3x gepa's total calls, equal or better final score).
3. wall: seconds per iteration with 100 ms latency on every LLM call (goal: <= 0.25x gepa's).
4. cpu: gepad's engine CPU per iteration, 200 candidates x 1,000 val, instant seams (goal <= 2 ms).
5. valscoring (only when asked for): 1. and 2. for gepad alone, with every accepted child scored on
   all of val ("full") and progressively (the default): val calls per child, children, scores.

A metric call is one judged rollout, counted by the world for both optimizers. Held-out (test)
scoring is done by the benchmark itself and costs neither side anything.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial

import anyio

from bench.engine_cpu import CpuResult, run_cpu
from bench.engine_report import (
    report_calls,
    report_cpu,
    report_incremental,
    report_val_scoring,
    report_wall,
)
from bench.world import KINDS, SEED_PROMPT, World, generate, make_splits, make_stream, make_user
from bench.world.adapt_gepa import run_gepa
from bench.world.adapt_gepad import GepadRun
from bench.world.dataset import WorldExample
from bench.world.progress import Trajectory
from gepad.engine import EngineConfig, ValScoring

PEERS = ("gepa", "gepad")


@dataclass(frozen=True)
class Settings:
    # Runs without latency cost well under a second each, so quality is averaged over many users.
    seeds: tuple[int, ...] = tuple(range(20))
    # gepad's EngineConfig.val_scoring: "progressive" (the default) or "full" (every accepted
    # child on all of val, as gepa does).
    val_scoring: ValScoring = "progressive"
    # 1. calls
    n_train: int = 40
    n_val: int = 40
    n_test: int = 200
    budget: int = 800
    checkpoints: tuple[int, ...] = (100, 200, 300, 400, 600, 800)
    # 2. incremental
    days: int = 7
    first_day: tuple[int, int] = (12, 12)  # (train, val)
    per_day: tuple[int, int] = (6, 6)
    gepa_day_budget: int = 300
    gepad_day_budget: int = 90
    # 3. wall (the first `wall_seeds` seeds; sizes as in 1.)
    latency_s: float = 0.1
    wall_iterations: int = 8
    wall_seeds: int = 3
    # 4. cpu
    cpu_candidates: int = 200
    cpu_val: int = 1000
    cpu_steps: int = 300


QUICK = Settings(
    seeds=(0,),
    n_train=20,
    n_val=8,
    n_test=60,
    budget=200,
    checkpoints=(100, 200),
    days=3,
    first_day=(8, 8),
    per_day=(4, 4),
    gepa_day_budget=120,
    gepad_day_budget=36,
    wall_iterations=2,
    wall_seeds=1,
    cpu_candidates=50,
    cpu_val=200,
    cpu_steps=30,
)


def engine_config(seed: int, val_scoring: ValScoring = "progressive") -> EngineConfig:
    # gepad's defaults: minibatch 3 (as gepa's), up to 5 merges a round, 8 rollouts in flight.
    return EngineConfig(seed=seed, val_scoring=val_scoring)


def run_gepad(
    world: World,
    train: Sequence[WorldExample],
    val: Sequence[WorldExample],
    test: Sequence[WorldExample],
    budget: int | None,
    seed: int,
    max_iterations: int | None = None,
    val_scoring: ValScoring = "progressive",
) -> Trajectory:
    run = GepadRun(world, test, engine_config(seed, val_scoring))
    run.add_examples({"train": train, "val": val})
    anyio.run(run.run_round, "r0", budget, max_iterations)
    return run.traj


GEPA_THREADS = 8  # as many rollouts in flight as gepad's default max_concurrency
RUNNERS: dict[str, Callable[..., Trajectory]] = {
    "gepa": run_gepa,
    # Wall time only: gepa with an adapter that runs each batch on a thread pool, the
    # parallelism a gepa user can add without touching gepa.
    f"gepa+{GEPA_THREADS}threads": partial(run_gepa, threads=GEPA_THREADS),
    "gepad": run_gepad,
}


def _extra(peer: str, s: Settings) -> dict[str, object]:
    """Keyword arguments only one peer's runner takes."""
    return {"val_scoring": s.val_scoring} if peer == "gepad" else {}


# ---------------------------------------------------------------------------- 1. calls


@dataclass
class CallsSeed:
    seed: int
    seed_score: float
    trajectories: dict[str, Trajectory] = field(default_factory=dict)


def calls_scenario(s: Settings, peers: Sequence[str] = PEERS) -> list[CallsSeed]:
    out = []
    for seed in s.seeds:
        splits = make_splits(seed, s.n_train, s.n_val, s.n_test)
        user = make_user(seed)
        row = CallsSeed(seed, World(user, seed).true_score(SEED_PROMPT, splits.test))
        for p in peers:
            world = World(user, seed)
            row.trajectories[p] = RUNNERS[p](
                world, splits.train, splits.val, splits.test, s.budget, seed, **_extra(p, s)
            )
        out.append(row)
    return out


# ---------------------------------------------------------------------------- 2. incremental


@dataclass
class IncSeed:
    seed: int
    daily: dict[str, list[float]] = field(default_factory=dict)  # held-out score after each day
    calls: dict[str, int] = field(default_factory=dict)  # total over all days
    child_val_calls: list[int] = field(default_factory=list)  # gepad's, per accepted child
    best_val: float = 0.0  # gepad's best-by-val candidate's val mean at the end


def incremental_scenario(s: Settings, peers: Sequence[str] = PEERS) -> list[IncSeed]:
    out = []
    for seed in s.seeds:
        user = make_user(seed)
        stream = make_stream(seed, s.first_day, s.per_day, s.days)
        # Tested on the mix the user ends up with, including the kind that only arrives later.
        test = generate(seed, "inc-test", s.n_test, dict.fromkeys(KINDS, 1.0))
        row = IncSeed(seed)
        if "gepa" in peers:
            world = World(user, seed)
            train: list[WorldExample] = []
            val: list[WorldExample] = []
            row.daily["gepa"] = []
            for day in stream:
                train, val = train + day.train, val + day.val
                traj = run_gepa(world, train, val, test, s.gepa_day_budget, seed + 1000 * day.day)
                row.daily["gepa"].append(traj.final)
            row.calls["gepa"] = world.counters.metric_calls
        if "gepad" in peers:
            world = World(user, seed)
            run = GepadRun(world, test, engine_config(seed, s.val_scoring))
            row.daily["gepad"] = []
            for day in stream:
                run.add_examples({"train": day.train, "val": day.val})
                anyio.run(run.run_round, f"day{day.day}", s.gepad_day_budget)
                row.daily["gepad"].append(run.traj.final)
            row.calls["gepad"] = world.counters.metric_calls
            row.child_val_calls = run.traj.child_val_calls
            row.best_val = run.traj.best_val
        out.append(row)
    return out


# ---------------------------------------------------------------------------- 3. wall


@dataclass
class WallSeed:
    seed: int
    trajectories: dict[str, Trajectory] = field(default_factory=dict)


def wall_peers(peers: Sequence[str]) -> list[str]:
    return [x for p in peers for x in ((p, f"gepa+{GEPA_THREADS}threads") if p == "gepa" else (p,))]


def wall_scenario(s: Settings, peers: Sequence[str] = PEERS) -> list[WallSeed]:
    out = []
    peers = wall_peers(peers)
    for seed in s.seeds[: s.wall_seeds]:
        user = make_user(seed)
        splits = make_splits(seed, s.n_train, s.n_val, 0)
        row = WallSeed(seed)
        for p in peers:
            world = World(user, seed, latency_s=s.latency_s)
            row.trajectories[p] = RUNNERS[p](
                world, splits.train, splits.val, [], None, seed,
                max_iterations=s.wall_iterations, **_extra(p, s),
            )
        out.append(row)
    return out


# ---------------------------------------------------------------------------- 5. val scoring

VAL_SCORINGS: tuple[ValScoring, ...] = ("full", "progressive")


@dataclass
class ValScoringRuns:
    """Scenarios 1 and 2 on gepad alone, once per val scoring, on the same users and seeds."""

    calls: dict[str, list[CallsSeed]] = field(default_factory=dict)
    incremental: dict[str, list[IncSeed]] = field(default_factory=dict)


def val_scoring_scenario(s: Settings) -> ValScoringRuns:
    out = ValScoringRuns()
    for mode in VAL_SCORINGS:
        m = replace(s, val_scoring=mode)
        out.calls[mode] = calls_scenario(m, ("gepad",))
        out.incremental[mode] = incremental_scenario(m, ("gepad",))
    return out


# ---------------------------------------------------------------------------- entry point


def run(s: Settings, peers: Sequence[str], only: set[str]) -> tuple[list[str], dict[str, object]]:
    """Runs the selected scenarios, printing each section as it completes."""
    sections: list[str] = []
    raw: dict[str, object] = {}

    def emit(name: str, text: str, data: object) -> None:
        sections.append(text)
        raw[name] = data
        print(text + "\n", flush=True)

    if "calls" in only:
        calls = calls_scenario(s, peers)
        emit("calls", report_calls(calls, s, peers), [asdict(r) for r in calls])
    if "incremental" in only:
        inc = incremental_scenario(s, peers)
        emit("incremental", report_incremental(inc, s, peers), [asdict(r) for r in inc])
    if "wall" in only:
        wall = wall_scenario(s, peers)
        emit("wall", report_wall(wall, s, wall_peers(peers)), [asdict(r) for r in wall])
    if "valscoring" in only:
        vs = val_scoring_scenario(s)
        emit("valscoring", report_val_scoring(vs.calls, vs.incremental, s), asdict(vs))
    if "cpu" in only and "gepad" in peers:
        cpu: CpuResult = run_cpu(s.cpu_candidates, s.cpu_val, s.cpu_steps, seed=s.seeds[0])
        emit("cpu", report_cpu(cpu), asdict(cpu))
    return sections, raw


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench engine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--seeds", help="comma-separated seeds (default 0..19, quick: 0)")
    parser.add_argument(
        "--only",
        default="calls,incremental,wall,cpu",
        help="comma-separated subset of calls,incremental,wall,cpu,valscoring (gepad with "
        "full vs progressive val scoring; not in the default set)",
    )
    parser.add_argument("--peers", default="gepa,gepad", help="gepa,gepad or just one of them")
    parser.add_argument(
        "--gepad-day-budget", type=int, help="gepad's calls per day in the incremental scenario"
    )
    parser.add_argument(
        "--val-scoring",
        choices=("progressive", "full"),
        default="progressive",
        help="how gepad scores an accepted child on val (EngineConfig.val_scoring)",
    )
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args(list(argv))
    s = QUICK if args.quick else Settings()
    if args.seeds:
        s = replace(s, seeds=tuple(int(x) for x in args.seeds.split(",")))
    s = replace(s, val_scoring=args.val_scoring)
    if args.gepad_day_budget:
        s = replace(s, gepad_day_budget=args.gepad_day_budget)
    peers = tuple(p for p in args.peers.split(",") if p)
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers: {sorted(unknown)}")
    started = time.perf_counter()
    _, raw = run(s, peers, set(args.only.split(",")))
    print(f"total wall time {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"settings": asdict(s), **raw}, f, indent=1)
    return 0
