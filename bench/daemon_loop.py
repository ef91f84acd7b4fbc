"""Simulated users driving the real daemon over gRPC, against gepa 0.1.4 on the same data (issue 6).

    python -m bench loop            # full run: 20 users (see bench/RESULTS.md for its runtime)
    python -m bench loop --quick    # 2 users, small budgets, under 3 minutes on 2 cores
    python -m bench loop --users 5 --seed 1 --only one-shot --judges oracle --json out.json

Each simulated user (bench/world) asks for help under the prompt the daemon serves (GetPrompt),
gets the world's task LM's reply, and reacts as people do: accepts it, or rejects or corrects it
with a comment naming at most two things that were wrong (RecordFeedback). Rounds are started
with Evolve (a per-round metric-call budget) and followed with WatchRun. The daemon reaches the
world's task, reflection and judge models through litellm at a loopback OpenAI-compatible server
(bench/world/model_server.py), as it would reach a provider.

Scenarios, each with both judges (a fresh daemon per scenario x budget x judge, so every row sees
the same user ids, example ids and splits):
* one-shot: 36 interactions under the seed prompt, then one round of 100 / 200 / 300 calls;
* seven days: 8 interactions a day, then one nightly round a day of 60 / 100 calls.

Judges: ``oracle`` grades against the user's true preferences; ``realistic`` knows only what its
prompt quotes (the example's comments and the user's rubric items) and answers gepad's rubric
requests from the comments it is shown.

The score is the *served* prompt's mean oracle score on held-out requests the daemon never saw,
divided by the ideal prompt's (every hidden preference stated exactly). gepa gets the same
requests with the same feedback, split as the daemon split them (its train = the daemon's train,
its val = the daemon's val and gate), the same judge (the realistic one sees each example's own
comments; gepa has no rubric) and the same metric calls (one-shot: the round's budget; seven
days: one run from scratch on all data at 7 x the daily budget), and is scored on its best-by-val
candidate. A metric call is one judged rollout: the daemon's own count (``Run.metric_calls``) for
gepad, the world's count for gepa.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Literal, cast, get_args

from bench.daemon_loop_report import report
from bench.daemon_proc import DaemonProcess, cpu_seconds
from bench.world import SEED_PROMPT, World, WorldExample, generate, make_stream, make_user
from bench.world.adapt_gepa import Grader, run_gepa
from bench.world.heldout import HeldOut
from bench.world.judge import Judgement
from bench.world.model_server import (
    JUDGE_MODELS,
    REFLECTION_MODEL,
    TASK_MODEL,
    WorldModelServer,
)
from bench.world.reactions import react
from bench.world.realistic_judge import told_by_comments
from bench.world.rubric import parse_item
from bench.world.task_lm import respond
from bench.world.users import User
from gepad.client import Client
from gepad.enums import RUN_STATUS
from gepad.identity import split_of
from gepad.v1 import gepad_pb2 as pb

Scenario = Literal["one-shot", "seven-days"]
Judge = Literal["oracle", "realistic"]

PROGRAM = "bench.loop"
KEY_ENV = "WORLD_MODEL_KEY"  # what the program's api_key_env names; the daemon gets it set
# The daemon's own nightly round would start rounds the benchmark did not ask for if a run
# crossed 03:17 UTC; once a year at New Year keeps it out of the way.
DAEMON_CONFIG = 'nightly_cron = "0 0 1 1 *"\nmax_concurrent_rounds = 2\n'


@dataclass(frozen=True)
class Settings:
    users: int = 20
    seed: int = 0  # user i is world seed 100 * seed + i (seed 0: the engine benchmark's users)
    n_test: int = 100
    oneshot_interactions: int = 36
    oneshot_budgets: tuple[int, ...] = (100, 200, 300)
    days: int = 7
    per_day: int = 8
    day_budgets: tuple[int, ...] = (60, 100)
    judges: tuple[Judge, ...] = ("oracle", "realistic")
    scenarios: tuple[Scenario, ...] = ("one-shot", "seven-days")
    in_flight: int = 2  # users driven at once (the daemon runs up to 2 rounds at a time)


QUICK = Settings(users=2, n_test=60, oneshot_budgets=(100,), days=3, day_budgets=(60,))
# One user, one small round: what the test suite runs end to end.
SMALLEST = Settings(users=1, n_test=30, oneshot_budgets=(60,),
                    judges=("realistic",), scenarios=("one-shot",), in_flight=1)


@dataclass(frozen=True)
class Config:
    scenario: Scenario
    budget: int  # metric calls per round
    judge: Judge
    days: int = 1

    @property
    def label(self) -> str:
        if self.scenario == "one-shot":
            return f"one-shot {self.budget}"
        return f"{self.days} days {self.budget}/day"


def configs(s: Settings) -> list[Config]:
    out = []
    for scenario in s.scenarios:
        if scenario == "one-shot":
            out += [Config(scenario, b, j) for b in s.oneshot_budgets for j in s.judges]
        else:
            out += [Config(scenario, b, j, s.days) for b in s.day_budgets for j in s.judges]
    return out


# ---------------------------------------------------------------------------- the users


@dataclass
class Plan:
    """One simulated user: their world, what they will ask, and their held-out set."""

    seed: int
    user: User
    world: World  # the daemon's models answer from this one
    oneshot: list[tuple[WorldExample, str]]
    days: list[list[tuple[WorldExample, str]]]
    heldout: HeldOut


def _texts(user: User, examples: Sequence[WorldExample]) -> list[tuple[WorldExample, str]]:
    # Templates repeat, so a reference makes every request unique: the daemon folds events on
    # the same input into one example, and the model server maps text back to the example.
    return [(ex, f"{ex.request} (ref {user.id}-{ex.id})") for ex in examples]


def make_plan(s: Settings, index: int) -> Plan:
    seed = 100 * s.seed + index
    user = make_user(seed)
    stream = make_stream(seed, (s.per_day, 0), (s.per_day, 0), s.days)
    test = generate(seed, "loop-heldout", s.n_test)
    return Plan(
        seed=seed, user=user, world=World(user, seed),
        oneshot=_texts(user, generate(seed, "oneshot", s.oneshot_interactions)),
        days=[_texts(user, day.train) for day in stream],
        heldout=HeldOut(World(user, seed), test),
    )


@dataclass(frozen=True)
class Interaction:
    example: WorldExample
    kind: str
    comment: str
    split: str  # the daemon's split of the example this interaction became


@dataclass
class RoundRecord:
    day: int
    status: str
    promoted: bool
    message: str
    metric_calls: int
    llm_calls: int
    iterations: int
    accepted: int
    before: float  # held-out ratio to ideal of the served prompt before the round
    after: float
    lowered: bool  # a promotion that lowered the held-out score by more than noise


@dataclass
class UserResult:
    seed: int
    served: float  # held-out ratio to ideal of the served prompt at the end
    gepa: float
    engine_best: float  # the daemon's best-by-val candidate (served or not)
    seed_prompt: float
    gepa_calls: int
    rounds: list[RoundRecord] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)  # reactions sent, by kind
    # The daemon's rubric at the end, item by item: "exact" (a true preference, right scope),
    # "mis-scoped" (a true preference said for all requests or the wrong kind), "wrong".
    rubric: dict[str, int] = field(default_factory=dict)


class UserLoop:
    """One simulated user talking to one daemon over gRPC."""

    def __init__(self, client: Client, plan: Plan) -> None:
        self.client, self.plan = client, plan
        self.user_id = plan.user.id
        self.interactions: list[Interaction] = []
        self.rounds: list[RoundRecord] = []

    def served(self) -> pb.Prompt:
        return self.client.fetch_prompt(self.user_id, PROGRAM)

    def interact(self, example: WorldExample, text: str) -> None:
        prompt = self.served()
        world = self.plan.world
        # The user's own use of the assistant: not a metric call of either optimizer.
        reply = respond(prompt.components["system"], example, world.seed, world.follow_p)
        reaction = react(self.plan.user, example, reply, world.seed)
        n = len(self.interactions)
        ack = self.client.record_feedback(
            event_id=f"{self.user_id}-{n:04d}", user_id=self.user_id, program=PROGRAM,
            kind=reaction.kind, input=text, output=reply.text, comment=reaction.comment,
            correction=reaction.correction, candidate_id=prompt.candidate_id, wait=True,
        )
        self.interactions.append(
            Interaction(example, reaction.kind, reaction.comment, split_of(ack.example_id)))

    def evolve(self, day: int, budget: int) -> RoundRecord:
        before = self.served().components["system"]
        run_id = self.client.evolve(
            self.user_id, PROGRAM, budget=pb.Budget(max_metric_calls_per_round=budget),
            seed=1 + 1000 * self.plan.seed + day,
        ).run_id
        for _ in self.client.watch_run(run_id):
            pass
        run = self.client.get_run(run_id)
        after = self.served().components["system"]
        held = self.plan.heldout
        record = RoundRecord(
            day=day, status=RUN_STATUS[run.status], promoted=run.promoted, message=run.message,
            metric_calls=run.metric_calls, llm_calls=run.llm_calls, iterations=run.iterations,
            accepted=run.accepted, before=held.ratio(before), after=held.ratio(after),
            lowered=run.promoted and held.lowered(before, after),
        )
        self.rounds.append(record)
        return record

    def rubric(self) -> dict[str, int]:
        found: dict[str, int] = {"exact": 0, "mis-scoped": 0, "wrong": 0}
        prefs = self.plan.user.preferences
        for item in self.client.get_rubric(self.user_id, PROGRAM).items:
            said = parse_item(item.description, item.scope)
            if said in prefs:
                found["exact"] += 1
            elif said is not None and any(said.unscoped() == p.unscoped() for p in prefs):
                found["mis-scoped"] += 1
            else:
                found["wrong"] += 1
        return found

    def engine_best(self) -> str:
        entries = self.client.get_frontier(self.user_id, PROGRAM).entries
        return entries[0].candidate.components["system"] if entries else SEED_PROMPT


def realistic_grader(world: World, interactions: Sequence[Interaction]) -> Grader:
    """gepa's metric with the realistic judge: each example graded against its own comment (gepa
    keeps no rubric across examples)."""
    told = {i.example.id: told_by_comments([i.comment] if i.comment else [])
            for i in interactions}

    def grade(example: WorldExample, text: str) -> Judgement:
        return world.judge_told(told[example.id], example, text)

    return grade


def gepa_baseline(plan: Plan, interactions: Sequence[Interaction], judge: Judge,
                  budget: int) -> tuple[str, int]:
    """gepa on the same requests and feedback: (its best-by-val prompt, metric calls spent)."""
    world = World(plan.user, plan.seed)
    train = [i.example for i in interactions if i.split == "train"]
    val = [i.example for i in interactions if i.split != "train"]
    if not train or not val:
        return SEED_PROMPT, 0
    grader = realistic_grader(world, interactions) if judge == "realistic" else None
    traj = run_gepa(world, train, val, [], budget, plan.seed, judge=grader)
    return traj.best_prompt, traj.total_calls


def drive_user(client: Client, plan: Plan, config: Config, s: Settings) -> UserResult:
    loop = UserLoop(client, plan)
    if config.scenario == "one-shot":
        for example, text in plan.oneshot:
            loop.interact(example, text)
        loop.evolve(0, config.budget)
        gepa_budget = config.budget
    else:
        for day, requests in enumerate(plan.days):
            for example, text in requests:
                loop.interact(example, text)
            loop.evolve(day, config.budget)
        gepa_budget = config.budget * len(plan.days)
    served = loop.served().components["system"]
    gepa_prompt, gepa_calls = gepa_baseline(plan, loop.interactions, config.judge, gepa_budget)
    kinds: dict[str, int] = {}
    for i in loop.interactions:
        kinds[i.kind] = kinds.get(i.kind, 0) + 1
    held = plan.heldout
    return UserResult(
        seed=plan.seed, served=held.ratio(served), gepa=held.ratio(gepa_prompt),
        engine_best=held.ratio(loop.engine_best()), seed_prompt=held.ratio(SEED_PROMPT),
        gepa_calls=gepa_calls, rounds=loop.rounds, kinds=kinds, rubric=loop.rubric(),
    )


# ---------------------------------------------------------------------------- one daemon


def register_program(client: Client, api_base: str, judge: Judge) -> None:
    def model(name: str) -> pb.ModelSettings:
        return pb.ModelSettings(model=f"openai/{name}", api_base=api_base, api_key_env=KEY_ENV)

    client.upsert_program(pb.Program(
        name=PROGRAM, seed_components={"system": SEED_PROMPT},
        task_model=model(TASK_MODEL), judge_model=model(JUDGE_MODELS[judge]),
        reflection_model=model(REFLECTION_MODEL),
    ))


def run_config(server: WorldModelServer, plans: Sequence[Plan], config: Config,
               s: Settings) -> tuple[list[UserResult], float]:
    """A fresh daemon for one row, the users ``s.in_flight`` at a time: (the users' results,
    the daemon's CPU seconds)."""
    daemon = DaemonProcess(tcp=False, env={KEY_ENV: "world-model-key"}, config=DAEMON_CONFIG)
    with daemon, Client(daemon.unix_target, timeout=120.0) as client:
        register_program(client, server.api_base, config.judge)
        try:
            with ThreadPoolExecutor(s.in_flight) as pool:
                users = list(pool.map(lambda p: drive_user(client, p, config, s), plans))
        except Exception:
            print(daemon.log_tail(), flush=True)
            raise
        return users, cpu_seconds(daemon.pid)


@dataclass
class Results:
    settings: Settings
    rows: dict[Config, list[UserResult]] = field(default_factory=dict)
    wall_s: dict[Config, float] = field(default_factory=dict)
    daemon_cpu_s: dict[Config, float] = field(default_factory=dict)
    model_calls: dict[str, int] = field(default_factory=dict)


def run(s: Settings, progress: Callable[[str], None] = print) -> Results:
    plans = [make_plan(s, i) for i in range(s.users)]
    results = Results(s)
    with WorldModelServer() as server:
        # Everything is registered up front, in user order, so the server's answers never
        # depend on which thread asked first.
        for plan in plans:
            for example, text in plan.oneshot + [r for day in plan.days for r in day]:
                server.register(text, plan.world, example)
        for config in configs(s):
            started = time.perf_counter()
            results.rows[config], results.daemon_cpu_s[config] = run_config(
                server, plans, config, s)
            results.wall_s[config] = time.perf_counter() - started
            progress(f"{config.label} {config.judge}: {results.wall_s[config]:.0f} s "
                     f"(daemon CPU {results.daemon_cpu_s[config]:.0f} s)")
        results.model_calls = dict(server.calls)
    return results


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench loop", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="2 users, small budgets")
    parser.add_argument("--users", type=int, help="simulated users (default 20, quick 2)")
    parser.add_argument("--seed", type=int, default=0, help="user i has world seed 100*seed+i")
    parser.add_argument("--only", help="comma-separated scenarios: one-shot,seven-days")
    parser.add_argument("--judges", help="comma-separated judges: oracle,realistic")
    parser.add_argument("--json", help="also write the raw results to this file")
    args = parser.parse_args(list(argv))
    s = replace(QUICK if args.quick else Settings(), seed=args.seed)
    if args.users:
        s = replace(s, users=args.users)
    if args.only:
        scenarios = tuple(args.only.split(","))
        if not set(scenarios) <= set(get_args(Scenario)):
            parser.error(f"--only: expected some of {', '.join(get_args(Scenario))}")
        s = replace(s, scenarios=cast(tuple[Scenario, ...], scenarios))
    if args.judges:
        judges = tuple(args.judges.split(","))
        if not set(judges) <= set(get_args(Judge)):
            parser.error(f"--judges: expected some of {', '.join(get_args(Judge))}")
        s = replace(s, judges=cast(tuple[Judge, ...], judges))
    started = time.perf_counter()
    results = run(s)
    print(report(results))
    print(f"total wall time {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "settings": asdict(s), "model_calls": results.model_calls,
                "rows": [{"config": asdict(c), "wall_s": results.wall_s[c],
                          "daemon_cpu_s": results.daemon_cpu_s[c],
                          "users": [asdict(u) for u in users]}
                         for c, users in results.rows.items()],
            }, f, indent=1)
    return 0
