"""End to end: feedback over gRPC, a round through litellm to a loopback test model, a better
prompt promoted, served and pushed to a watcher."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import grpc
import pytest

import gepad.rounds.manager as rounds_module
import gepad.rounds.sizing as sizing
from gepad.caps import DEFAULT_CAPS
from gepad.engine import Budget
from gepad.programs import BudgetCaps, EvolutionSettings, Program
from gepad.runs import Run, RunProgress
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import DaemonThread, RunningDaemon, make_settings
from tests.doubles.openai_server import OpenAIDouble

SEED = "You are a careful editor."


def register(stub: pbg.GepadStub, api_base: str, budget: pb.Budget | None = None,
             seed: str = SEED, **evolution: object) -> None:
    def model(name: str) -> pb.ModelSettings:
        return pb.ModelSettings(model=f"openai/{name}", api_base=api_base,
                                api_key_env="GEPAD_TEST_KEY")

    stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
        name="editor", seed_components={"system": seed},
        task_model=model("task-double"), judge_model=model("judge-double"),
        reflection_model=model("reflect-double"),
        evolution=pb.EvolutionSettings(**evolution),  # type: ignore[arg-type]
        budget=budget,
    )))


def feed(stub: pbg.GepadStub, user: str, n: int) -> None:
    events = [
        pb.FeedbackEvent(
            event_id=f"{user}-{i}", user_id=user, program="editor",
            kind=pb.FEEDBACK_KIND_CORRECTION,
            input=[pb.ChatMessage(role="user", content=f"question {i}")],
            output=f"ok: question {i}", correction=f"OK: QUESTION {i}",
            comment="I want answers in uppercase",
        )
        for i in range(n)
    ]
    assert stub.StreamFeedback(iter(events)).stored == n


def test_a_round_promotes_a_better_prompt_and_watchers_see_it(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=3)
        feed(stub, "alice", 30)
        watch = stub.WatchPrompt(pb.WatchPromptRequest(user_id="alice", program="editor"),
                                 timeout=60)
        assert next(watch).components["system"] == SEED

        run_id = stub.Evolve(pb.EvolveRequest(user_id="alice", program="editor")).run_id
        progress = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))
        final = progress[-1].run
        assert final.status == pb.RUN_STATUS_SUCCEEDED, final.message
        assert final.promoted, final.message
        assert final.accepted >= 1 and final.metric_calls > 0 and final.llm_calls > 0
        # Every call the test model answered reported 15 tokens.
        assert final.tokens == 15 * final.llm_calls
        assert final.budget.max_metric_calls_per_round == 300  # the default per-round cap
        assert final.metric_calls <= 300
        assert {p.event for p in progress} >= {"started", "promoted"}
        steps = [p for p in progress if p.event not in ("queued", "started", "finished")]
        assert steps and all(p.event and p.detail for p in steps), steps

        served = next(watch)
        assert "UPPERCASE" in served.components["system"]
        assert served.candidate_id == final.promoted_candidate_id and served.version == 1
        assert stub.GetPrompt(pb.GetPromptRequest(user_id="alice", program="editor")) == served

        lineage = stub.ListLineage(pb.ListLineageRequest(user_id="alice", program="editor"))
        node = next(c for c in lineage.candidates if c.id == served.candidate_id)
        mine = [c for c in lineage.candidates if c.run_id == run_id]
        assert final.accepted == sum(c.origin == pb.CANDIDATE_ORIGIN_REFLECTION for c in mine)
        assert final.merges == sum(c.origin == pb.CANDIDATE_ORIGIN_MERGE for c in mine)
        assert node.origin == pb.CANDIDATE_ORIGIN_REFLECTION and node.run_id == run_id
        assert lineage.history[-1].reason == "promotion"
        assert lineage.history[-1].actor == f"engine:{run_id}"

        frontier = stub.GetFrontier(pb.GetFrontierRequest(user_id="alice", program="editor"))
        assert frontier.served_candidate_id == served.candidate_id
        top = frontier.entries[0]
        assert top.candidate.id == served.candidate_id
        assert top.val_score == 1.0
        # It wins every val example of alice's, and reports the judge's dimensions for them.
        n_val = val_examples(running_daemon, "alice")
        assert top.instances_won == top.val_coverage == frontier.val_examples == n_val > 0
        assert top.dimension_scores and all(0 <= v <= 1 for v in top.dimension_scores.values())
        # The entry's candidate is the lineage node itself.
        assert (top.candidate.parent_ids, top.candidate.origin, top.candidate.components,
                top.candidate.rationale, top.candidate.run_id) == (
                node.parent_ids, node.origin, node.components, node.rationale, run_id)
        runs = stub.ListRuns(pb.ListRunsRequest(user_id="alice", program="editor")).runs
        assert [r.run_id for r in runs] == [run_id]
        watch.cancel()
    assert double.calls["judge-double"] > 0 and double.calls["reflect-double"] >= 1


def test_a_pinned_prompt_is_not_replaced(running_daemon: RunningDaemon,
                                         double: OpenAIDouble) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=2)
        feed(stub, "bob", 30)
        seed = stub.GetPrompt(pb.GetPromptRequest(user_id="bob", program="editor"))
        stub.Rollback(pb.RollbackRequest(user_id="bob", program="editor",
                                         candidate_id=seed.candidate_id))
        run_id = stub.Evolve(pb.EvolveRequest(user_id="bob", program="editor")).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
        assert final.status == pb.RUN_STATUS_SUCCEEDED and not final.promoted
        assert final.message == "not promoted: the served prompt is pinned (after a rollback)"
        served = stub.GetPrompt(pb.GetPromptRequest(user_id="bob", program="editor"))
        assert served.components["system"] == SEED and served.pinned
    # Known to be pinned before the gate: no gate rollout was spent on a decision it cannot make.
    assert gate_evaluations(running_daemon) == 0


def val_examples(daemon: RunningDaemon, user: str, split: str = "val") -> int:
    with sqlite3.connect(daemon.settings.database_path) as conn:
        (n,) = conn.execute("SELECT count(*) FROM examples WHERE split = ? AND user_id = ?",
                            (split, user)).fetchone()
    return int(n)


def least_round(daemon: RunningDaemon, user: str) -> int:
    """The fewest metric calls a round starts with: scoring the seed on val, one iteration's two
    minibatches (3 examples each) and the gate set aside (candidate and served)."""
    return val_examples(daemon, user) + 2 * 3 + 2 * val_examples(daemon, user, "gate")


def gate_evaluations(daemon: RunningDaemon) -> int:
    with sqlite3.connect(daemon.settings.database_path) as conn:
        (n,) = conn.execute(
            "SELECT count(*) FROM evaluations JOIN examples USING (example_id) "
            "WHERE examples.split = 'gate'").fetchone()
    return int(n)


def test_a_rollback_while_the_gate_decides_wins(
    running_daemon: RunningDaemon, double: OpenAIDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pin lands after the round checked for one and before it serves its winner: the
    check inside the serving transaction is what keeps the user's rollback."""
    target = running_daemon.target
    real = rounds_module.choose_promotion

    def rollback_to_seed() -> None:
        with grpc.insecure_channel(target) as ch:
            stub = pbg.GepadStub(ch)
            seed = stub.GetPrompt(pb.GetPromptRequest(user_id="bob", program="editor"))
            stub.Rollback(pb.RollbackRequest(user_id="bob", program="editor",
                                             candidate_id=seed.candidate_id, note="mine"))

    async def pin_then_decide(*args: Any, **kwargs: Any) -> Any:
        await anyio.to_thread.run_sync(rollback_to_seed)
        return await real(*args, **kwargs)

    monkeypatch.setattr(rounds_module, "choose_promotion", pin_then_decide)
    with grpc.insecure_channel(target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=2)
        feed(stub, "bob", 30)
        run_id = stub.Evolve(pb.EvolveRequest(user_id="bob", program="editor")).run_id
        progress = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))
        final = progress[-1].run
        assert final.status == pb.RUN_STATUS_SUCCEEDED and not final.promoted
        assert "pinned while the round ran" in final.message
        served = stub.GetPrompt(pb.GetPromptRequest(user_id="bob", program="editor"))
        assert served.components["system"] == SEED and served.pinned
        history = stub.ListLineage(pb.ListLineageRequest(user_id="bob", program="editor")).history
        assert [h.reason for h in history] == ["rollback"]


def test_budget_cap_is_never_exceeded(running_daemon: RunningDaemon,
                                      double: OpenAIDouble) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=50)
        feed(stub, "carol", 30)
        cap = least_round(running_daemon, "carol") + 2
        request = pb.EvolveRequest(user_id="carol", program="editor",
                                   budget=pb.Budget(max_metric_calls_per_round=cap))
        run_id = stub.Evolve(request).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
        assert final.status == pb.RUN_STATUS_SUCCEEDED
        assert 0 < final.metric_calls <= cap
        assert final.budget.max_metric_calls_per_round == cap
    with sqlite3.connect(running_daemon.settings.database_path) as conn:
        (status,) = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    assert status == "succeeded"


def test_the_day_budget_counts_the_days_earlier_rounds(running_daemon: RunningDaemon,
                                                     double: OpenAIDouble) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=50)
        feed(stub, "carol", 30)
        least = least_round(running_daemon, "carol")
        day = 2 * least + 4
        # The minibatch is fixed at least_round's 3 (a small round would size it down to 2).
        register(stub, double.api_base, max_iterations_per_round=50, minibatch_size=3,
                 budget=pb.Budget(max_metric_calls_per_round=least + 10,
                                  max_metric_calls_per_day=day))
        spent, messages = [], []
        for _ in range(3):
            run_id = stub.Evolve(pb.EvolveRequest(user_id="carol", program="editor")).run_id
            final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
            assert final.budget.max_metric_calls_per_day == day
            spent.append(final.metric_calls)
            messages.append(final.message)
    assert spent[0] > least, spent
    assert sum(spent) <= day, spent
    # What the day has left cannot pay for a round: the last one says so and spends nothing.
    assert spent[-1] == 0 and messages[-1].startswith("no decision:"), messages


def test_evolve_refuses_what_it_cannot_do(running_daemon: RunningDaemon) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
            name="bare", seed_components={"system": "s"})))
        with pytest.raises(grpc.RpcError) as info:
            stub.Evolve(pb.EvolveRequest(user_id="alice", program="bare"))
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "task_model" in (info.value.details() or "")
        register(stub, "http://127.0.0.1:9/v1")
        with pytest.raises(grpc.RpcError) as info:
            stub.Evolve(pb.EvolveRequest(user_id="nobody", program="editor"))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as info:
            stub.GetRun(pb.GetRunRequest(run_id="rmissing"))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND





@pytest.mark.anyio
async def test_a_watcher_that_falls_behind_still_sees_how_the_run_ended() -> None:
    # While a watcher is away (its last message still being sent), the round publishes its
    # last steps and finishes: the watcher's next message must be the final state.
    run = Run(run_id="r1", user_id="u", program="p", trigger="manual", status="running")
    stored: dict[str, Run] = {}

    class Runs:
        async def get_run(self, run_id: str) -> Run:
            return stored["run"]

    manager = rounds_module.RoundManager(store=Runs(), programs=None, prompts=None,  # type: ignore[arg-type]
                                         seams=None)  # type: ignore[arg-type]
    manager._live["r1"] = rounds_module._Live(RunProgress(run.copy(), "started"))
    watch = manager.watch_run("r1")
    assert (await watch.__anext__()).event == "started"

    manager._publish(run, "promoted")
    run.status = "succeeded"
    stored["run"] = run.copy()
    manager._publish(run, "finished")
    manager._live.pop("r1")

    rest = [p async for p in watch]
    assert [(p.event, p.run.status) for p in rest] == [("finished", "succeeded")]


def test_a_run_in_progress_is_reported_as_it_is_now(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=1)
        feed(stub, "carol", 30)
        double.hold("task-double")  # the round waits inside its first step
        try:
            asked = time.time()
            run_id = stub.Evolve(pb.EvolveRequest(user_id="carol", program="editor")).run_id
            assert double.held.wait(60)
            # The stored record still says queued; the live run says running.
            assert stored_status(running_daemon, run_id) == "queued"
            live = stub.GetRun(pb.GetRunRequest(run_id=run_id))
            assert (live.status, live.message) == (pb.RUN_STATUS_RUNNING, "started by admin")
            assert asked - 1 <= live.started_at.ToNanoseconds() / 1e9 <= time.time()
            listed = stub.ListRuns(pb.ListRunsRequest(user_id="carol", program="editor")).runs
            assert [(r.run_id, r.status) for r in listed] == [(run_id, pb.RUN_STATUS_RUNNING)]
        finally:
            double.release()
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1]
        assert final.event == "finished" and final.run.status == pb.RUN_STATUS_SUCCEEDED
        assert stub.GetRun(pb.GetRunRequest(run_id=run_id)) == final.run


def stored_status(daemon: RunningDaemon, run_id: str) -> str:
    with sqlite3.connect(daemon.settings.database_path) as conn:
        (status,) = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return str(status)


def test_a_programs_evolution_settings_reach_the_engine_and_zero_means_sized_by_gepad() -> None:
    defaults = rounds_module.engine_config(Program("p", {}), seed=7)
    assert (defaults.minibatch_size, defaults.rollouts_per_example, defaults.max_merges,
            defaults.max_concurrency, defaults.seed) == (3, 1, 2, 8, 7)
    # 25 calls for the search: minibatch 2, 13 iterations, 3 merges.
    sized = rounds_module.engine_config(Program("p", {}), seed=7, search_calls=25)
    assert (sized.minibatch_size, sized.max_merges) == (2, 3)
    program = Program("p", {}, evolution=EvolutionSettings(
        minibatch_size=6, rollouts_per_example=2, max_merges_per_round=1, max_concurrency=3))
    chosen = rounds_module.engine_config(program, seed=0)
    assert (chosen.minibatch_size, chosen.rollouts_per_example, chosen.max_merges,
            chosen.max_concurrency, chosen.seed) == (6, 2, 1, 3, 0)


def test_a_round_waits_its_turn_and_one_user_has_one_round_at_a_time(
    daemon_root: Path, double: OpenAIDouble
) -> None:
    settings = replace(make_settings(daemon_root), max_concurrent_rounds=1)
    daemon = DaemonThread(settings)
    daemon.wait_ready()
    try:
        with grpc.insecure_channel(f"unix://{settings.socket_path}") as ch:
            stub = pbg.GepadStub(ch)
            register(stub, double.api_base, max_iterations_per_round=1)
            feed(stub, "dan", 30)
            feed(stub, "eve", 30)
            double.hold("task-double")
            try:
                first = stub.Evolve(pb.EvolveRequest(user_id="dan", program="editor")).run_id
                assert double.held.wait(60)
                # Asking again while dan's round runs gives the same round.
                again = stub.Evolve(pb.EvolveRequest(user_id="dan", program="editor")).run_id
                assert again == first
                second = stub.Evolve(pb.EvolveRequest(user_id="eve", program="editor")).run_id
                assert second != first
                # One round at a time in this daemon: eve's waits, and says so.
                waiting = stub.GetRun(pb.GetRunRequest(run_id=second))
                assert (waiting.status, waiting.user_id) == (pb.RUN_STATUS_QUEUED, "eve")
                watch = stub.WatchRun(pb.WatchRunRequest(run_id=second), timeout=60)
                queued = next(watch)
                assert (queued.event, queued.run.run_id) == ("queued", second)
            finally:
                double.release()
            assert list(watch)[-1].run.status == pb.RUN_STATUS_SUCCEEDED
    finally:
        daemon.stop()


def test_a_rounds_budgets_come_from_the_caps_in_force_and_the_days_runs() -> None:
    caps = BudgetCaps(
        max_metric_calls_per_round=20, max_tokens_per_round=1, max_cost_usd_per_round=0.5,
        max_metric_calls_per_day=1, max_tokens_per_day=7, max_cost_usd_per_day=0.25)
    run = Run("r", "u", "p", "manual", metric_calls=4, tokens=9, cost_usd=0.125, llm_calls=6)
    today = [Run(f"r{m}", "u", "p", "manual", metric_calls=m, tokens=10 * m, cost_usd=m / 8,
                 llm_calls=2 * m) for m in (1, 2)]
    round_budget, day_budget = rounds_module.RoundManager._budgets(caps, run, today)
    assert round_budget == Budget(max_metric_calls=20, max_tokens=1, max_cost_usd=0.5,
                                  metric_calls=4, tokens=9, cost_usd=0.125, llm_calls=6)
    assert day_budget == Budget(max_metric_calls=1, max_tokens=7, max_cost_usd=0.25,
                                metric_calls=3, tokens=30, cost_usd=0.375, llm_calls=6)


def test_a_day_starts_at_midnight_utc() -> None:
    assert rounds_module._day_start(3 * 86400 + 5.5) == 3 * 86400
    assert rounds_module._day_start(3 * 86400) == 3 * 86400


def test_a_candidate_the_gate_refuses_is_not_served(running_daemon: RunningDaemon,
                                                    double: OpenAIDouble) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        # No candidate can beat the served prompt by a whole point on a 0..1 scale.
        register(stub, double.api_base, max_iterations_per_round=3, promotion_margin=1.0,
                 budget=None)
        feed(stub, "frank", 30)
        run_id = stub.Evolve(pb.EvolveRequest(user_id="frank", program="editor")).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
        assert final.status == pb.RUN_STATUS_SUCCEEDED and final.accepted >= 1
        assert not final.promoted and final.promoted_candidate_id == ""
        assert final.message.startswith("not promoted: gate mean"), final.message
        served = stub.GetPrompt(pb.GetPromptRequest(user_id="frank", program="editor"))
        assert served.components["system"] == SEED and served.version == 0

        # A second round: the frontier still holds the first round's candidates, each shown as
        # its lineage node (made by the round that made it, not by the latest one).
        second = stub.Evolve(pb.EvolveRequest(user_id="frank", program="editor")).run_id
        again = list(stub.WatchRun(pb.WatchRunRequest(run_id=second), timeout=60))[-1].run
        assert again.iterations >= 1  # a new round starts its own count
        nodes = {c.id: c for c in stub.ListLineage(
            pb.ListLineageRequest(user_id="frank", program="editor")).candidates}
        assert nodes[served.candidate_id].origin == pb.CANDIDATE_ORIGIN_SEED
        entries = stub.GetFrontier(pb.GetFrontierRequest(user_id="frank", program="editor")).entries
        assert entries and all(e.candidate == nodes[e.candidate.id] for e in entries)
        assert run_id in {e.candidate.run_id for e in entries}


def test_a_round_that_breaks_fails_and_says_why(
    running_daemon: RunningDaemon, double: OpenAIDouble, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*args: object) -> object:
        raise RuntimeError("examples unreadable")

    monkeypatch.setattr(rounds_module, "build_dataset", broken)
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=1)
        feed(stub, "gina", 30)
        run_id = stub.Evolve(pb.EvolveRequest(user_id="gina", program="editor")).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
        assert final.status == pb.RUN_STATUS_FAILED
        assert final.message == "RuntimeError: examples unreadable"
        assert final.HasField("finished_at")
        assert stored_status(running_daemon, run_id) == "failed"
        # The user can start another round: the failed one no longer holds the slot.
        again = stub.Evolve(pb.EvolveRequest(user_id="gina", program="editor")).run_id
        assert again != run_id
    assert f"run {run_id} failed" in caplog.messages


def test_without_an_iteration_cap_a_round_takes_the_default(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, budget=pb.Budget(
            max_tokens_per_round=10**9, max_cost_usd_per_round=1000.0, max_tokens_per_day=10**10))
        feed(stub, "hal", 30)
        run_id = stub.Evolve(pb.EvolveRequest(user_id="hal", program="editor")).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
        assert final.status == pb.RUN_STATUS_SUCCEEDED, final.message
        assert 1 <= final.iterations <= sizing.DEFAULT_MAX_ITERATIONS
        # The caps in force are on the run's record.
        assert (final.budget.max_tokens_per_round, final.budget.max_cost_usd_per_round) == (
            10**9, 1000.0)
        # No day cap on calls set: the daemon's default is in force, never "unlimited".
        assert final.budget.max_metric_calls_per_day == DEFAULT_CAPS.max_metric_calls_per_day
        assert final.budget.max_tokens_per_day == 10**10




def test_the_frontier_of_a_user_still_on_the_seed_shows_the_seed(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        # A seed the judge already gives full marks: once scored on val there is nothing to
        # gain, so the round stops there and nothing else is tried or served.
        perfect = "You are a careful editor. Always answer in UPPERCASE."
        register(stub, double.api_base, seed=perfect)
        feed(stub, "ida", 30)
        seed = stub.GetPrompt(pb.GetPromptRequest(user_id="ida", program="editor"))
        run_id = stub.Evolve(pb.EvolveRequest(user_id="ida", program="editor")).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
        assert final.status == pb.RUN_STATUS_SUCCEEDED and not final.promoted
        frontier = stub.GetFrontier(pb.GetFrontierRequest(user_id="ida", program="editor"))
        assert frontier.served_candidate_id == seed.candidate_id
        (entry,) = frontier.entries
        node = entry.candidate
        assert (node.id, node.origin, dict(node.components), list(node.parent_ids),
                node.run_id) == (seed.candidate_id, pb.CANDIDATE_ORIGIN_SEED,
                                 {"system": perfect}, [], "")


def test_a_round_that_cannot_call_its_models_fails_before_spending_and_says_why(
    running_daemon: RunningDaemon, double: OpenAIDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base)
        feed(stub, "kim", 30)
        monkeypatch.delenv("GEPAD_TEST_KEY")
        run_id = stub.Evolve(pb.EvolveRequest(user_id="kim", program="editor")).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
    assert final.status == pb.RUN_STATUS_FAILED
    assert final.message == ("failed before any model call: environment variable GEPAD_TEST_KEY "
                             "is not set (model openai/task-double); environment variable "
                             "GEPAD_TEST_KEY is not set (model openai/judge-double); environment "
                             "variable GEPAD_TEST_KEY is not set (model openai/reflect-double)")
    assert (final.metric_calls, final.llm_calls, sum(double.calls.values())) == (0, 0, 0)


def test_a_round_whose_calls_all_fail_ends_failed_with_the_cause(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base)
        feed(stub, "lou", 30)
        double.fail("task-double", 401, "Incorrect API key provided: not-a-r***key")
        run_id = stub.Evolve(pb.EvolveRequest(user_id="lou", program="editor")).run_id
        progress = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))
        listed = stub.ListRuns(pb.ListRunsRequest(user_id="lou", program="editor")).runs
    final = progress[-1].run
    assert final.status == pb.RUN_STATUS_FAILED and not final.promoted
    assert final.message.startswith(f"failed: all {val_examples(running_daemon, 'lou')} rollout "
                                    "calls failed; ")
    assert "AuthenticationError" in final.message and "Incorrect API key" in final.message
    assert listed[0] == final
    # The first step's failures end the round: no reflection, no gate.
    assert double.calls["reflect-double"] == 0


def test_a_user_without_val_or_gate_examples_gets_no_decision_and_no_spending(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base)
        feed(stub, "max", 1)
        run_id = stub.Evolve(pb.EvolveRequest(user_id="max", program="editor")).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
    assert final.status == pb.RUN_STATUS_SUCCEEDED and not final.promoted
    assert final.message.startswith("no decision: a round needs at least one val and one gate "
                                    "example"), final.message
    assert "this user has 1 examples" in final.message
    assert (final.metric_calls, sum(double.calls.values())) == (0, 0)


def stored_rubric(daemon: RunningDaemon, user: str) -> dict[str, Any]:
    with sqlite3.connect(daemon.settings.database_path) as conn:
        row = conn.execute("SELECT rubric_json FROM rubrics WHERE user_id = ?", (user,)).fetchone()
    return {} if row is None else dict(json.loads(row[0]))


def test_a_round_reads_the_users_feedback_into_a_rubric_the_judge_grades_against(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=1)
        feed(stub, "nia", 30)
        run_id = stub.Evolve(pb.EvolveRequest(user_id="nia", program="editor")).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
    assert final.status == pb.RUN_STATUS_SUCCEEDED and "rubric" not in final.message
    rubric = stored_rubric(running_daemon, "nia")
    (item,) = rubric["items"]
    assert (item["name"], item["scope"]) == ("uppercase", "all requests")
    # Every event said it (each carries a comment), and every event was read.
    assert sorted(item["evidence"]) == sorted(f"nia-{i}" for i in range(30))
    assert rubric["events_seen"] == 30
    grading = double.last_messages["judge-double"][-1]["content"]
    assert "The user's rubric:" in grading
    assert re.search(r"\[(DATA-\w+) rubric item 1: uppercase \(applies to: all requests\)\]\n"
                     r"This user wants every answer in uppercase letters\.\n\[/\1\]", grading)


def test_a_rubric_answer_that_breaks_its_contract_leaves_the_rubric_and_says_so(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=1)
        feed(stub, "oz", 30)
        double.fail("judge-double", 400, "bad request", times=1)  # the first judge call: rubric
        run_id = stub.Evolve(pb.EvolveRequest(user_id="oz", program="editor")).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
    assert final.status == pb.RUN_STATUS_SUCCEEDED
    assert "(rubric not updated: rubric model failed: " in final.message
    assert stored_rubric(running_daemon, "oz") == {}


def test_a_perfect_score_on_a_tiny_val_set_does_not_end_the_search(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    perfect = "You are a careful editor. Always answer in UPPERCASE."
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, seed=perfect)
        feed(stub, "quin", 10)  # 6 train, 2 val, 2 gate examples
        assert val_examples(running_daemon, "quin") < rounds_module.MIN_VAL_TO_CONVERGE
        budget = pb.Budget(max_metric_calls_per_round=least_round(running_daemon, "quin") + 12)
        run_id = stub.Evolve(pb.EvolveRequest(user_id="quin", program="editor",
                                              budget=budget)).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
    assert final.status == pb.RUN_STATUS_SUCCEEDED
    assert "converged" not in final.message and final.iterations >= 1, final.message
