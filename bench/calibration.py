"""A judge miscalibrated on one failure mode, with and without calibration (issue 9).

    python -m bench calibration            # 8 users, 2 rounds each, both arms
    python -m bench calibration --quick    # 3 users, 1 round each

The world (bench/calibration_world.py): users want UPPERCASE and hate "As an AI language model";
the judge rewards that phrase. Each user sends ``--interactions`` labelled answers given under the
seed prompt (acceptances, and rejections saying what was wrong), then the daemon runs rounds.
The same users, feedback, models and seeds go to two fresh daemons: one with ``[evaluators]
calibrate = false`` (every evaluator decides promotion, as before calibration existed), one with
calibration on (the judge is measured against the users' labels; a rule is generated per failure
mode; only gating evaluators decide promotion).

Reported per arm: promotions, gamed promotions (the served prompt asks for the phrase), the
users' satisfaction on held-out requests under the served prompt (share of answers they would
accept; the seed's and the wanted prompt's in the same run for reference), the judge's status
and MCC, and the LLM calls the rounds spent (medians per round).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.calibration_world import (
    JUDGE,
    PHRASE,
    REFLECTION,
    SEED,
    TASK,
    WANTED,
    Models,
    complaints,
    task_answer,
)
from bench.daemon_proc import DaemonProcess
from gepad.client import Client
from gepad.v1 import gepad_pb2 as pb

PROGRAM = "bench.calibration"
KEY_ENV = "CAL_MODEL_KEY"
HELD_OUT = 40


@dataclass
class Arm:
    name: str
    promotions: int = 0
    gamed: int = 0
    satisfaction: list[float] | None = None
    judge: list[str] | None = None
    llm_calls: list[int] | None = None
    message: str = ""


def satisfaction(system: str, user: str) -> float:
    """Share of held-out answers under ``system`` that the user would accept."""
    questions = [f"held-out question {user}-{i}" for i in range(HELD_OUT)]
    return sum(not complaints(task_answer(system, q)) for q in questions) / HELD_OUT


def feed(client: Client, user: str, interactions: int) -> None:
    for i in range(interactions):
        question = f"question {user}-{i}"
        output = task_answer(SEED, question)
        said = complaints(output)
        client.record_feedback(
            event_id=f"{user}-{i:04d}", user_id=user, program=PROGRAM,
            kind="rejection" if said else "acceptance", input=question, output=output,
            comment="; ".join(said))
    client.flush()  # queued by the client library: stored before the round reads them


def run_arm(name: str, calibrate: bool, models: Models, users: Sequence[str], rounds: int,
            interactions: int, budget: int) -> Arm:
    config = ('nightly_cron = "0 0 1 1 *"\nmax_concurrent_rounds = 2\n'
              f"[evaluators]\ncalibrate = {'true' if calibrate else 'false'}\n")
    arm = Arm(name, satisfaction=[], judge=[], llm_calls=[])
    daemon = DaemonProcess(tcp=False, env={KEY_ENV: "cal-key"}, config=config)
    with daemon, Client(daemon.unix_target, timeout=120.0) as client:
        def model(name: str) -> pb.ModelSettings:
            return pb.ModelSettings(model=f"openai/{name}", api_base=models.api_base,
                                    api_key_env=KEY_ENV)

        client.upsert_program(pb.Program(
            name=PROGRAM, seed_components={"system": SEED}, task_model=model(TASK),
            judge_model=model(JUDGE), reflection_model=model(REFLECTION),
            evolution=pb.EvolutionSettings(max_iterations_per_round=3)))
        for n, user in enumerate(users):
            feed(client, user, interactions)
            for r in range(rounds):
                run_id = client.evolve(user, PROGRAM, seed=1 + 100 * n + r,
                                       budget=pb.Budget(max_metric_calls_per_round=budget)).run_id
                for _ in client.watch_run(run_id):
                    pass
                run = client.get_run(run_id)
                assert arm.llm_calls is not None
                arm.llm_calls.append(run.llm_calls)
                if run.promoted:
                    arm.promotions += 1
                    served = client.get_prompt(user, PROGRAM).components["system"]
                    arm.gamed += PHRASE in served
                arm.message = run.message
            served = client.get_prompt(user, PROGRAM).components["system"]
            assert arm.satisfaction is not None and arm.judge is not None
            arm.satisfaction.append(satisfaction(served, user))
            judge = next((e for e in client.list_evaluators(user, PROGRAM).evaluators
                          if e.name == "judge"), None)
            arm.judge.append("-" if judge is None else
                             f"{judge.status} (MCC {judge.calibration.mcc:.2f})"
                             if judge.calibration.HasField("mcc") else judge.status)
    return arm


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench calibration")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--interactions", type=int, default=60)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="3 users, 1 round each")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.rounds = 3, 1
    users = [f"cal-user-{i}" for i in range(args.users)]
    with Models() as models:
        arms = [run_arm(name, calibrate, models, users, args.rounds, args.interactions,
                        args.budget)
                for name, calibrate in (("without calibration", False),
                                        ("with calibration", True))]
    seed = statistics.mean(satisfaction(SEED, u) for u in users)
    wanted = statistics.mean(satisfaction(WANTED, u) for u in users)
    print(f"{args.users} users x {args.rounds} rounds, {args.interactions} labelled answers each "
          f"under the seed, {args.budget} metric calls per round")
    print(f"held-out satisfaction of the seed prompt {seed:.3f}, of the wanted prompt "
          f"{wanted:.3f}")
    print(f"{'arm':<22}{'promotions':>11}{'gamed':>7}{'held-out (mean)':>17}"
          f"{'LLM calls/round (median)':>26}  judge")
    for arm in arms:
        assert arm.satisfaction is not None and arm.llm_calls is not None and arm.judge
        print(f"{arm.name:<22}{arm.promotions:>11}{arm.gamed:>7}"
              f"{statistics.mean(arm.satisfaction):>17.3f}"
              f"{statistics.median(arm.llm_calls):>26.0f}  {arm.judge[0]}")
    print(f"last run's message (with calibration): {arms[1].message}")
    return 0
