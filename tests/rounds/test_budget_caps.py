"""Who may set a round's caps, over real TCP with bearer tokens: a user's Evolve may lower them,
only an admin's may raise them, and every cap in force is finite."""

from __future__ import annotations

import sqlite3

import grpc
import pytest

from gepad.caps import DEFAULT_CAPS
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import RunningDaemon
from tests.doubles.openai_server import OpenAIDouble
from tests.rounds.test_manager import feed, register


def runs(daemon: RunningDaemon) -> list[tuple[str, ...]]:
    with sqlite3.connect(daemon.settings.database_path) as conn:
        return conn.execute("SELECT * FROM runs ORDER BY 1").fetchall()


def test_a_user_token_may_lower_a_rounds_caps_but_only_admin_may_raise_them(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    alice = [("authorization", f"Bearer {running_daemon.user_token('alice')}")]
    with grpc.insecure_channel(running_daemon.target) as unix, \
            grpc.insecure_channel(running_daemon.tcp_target) as tcp:
        admin, user = pbg.GepadStub(unix), pbg.GepadStub(tcp)
        register(admin, double.api_base, max_iterations_per_round=2,
                 budget=pb.Budget(max_metric_calls_per_round=120))
        feed(admin, "alice", 30)

        for too_much, field in ((pb.Budget(max_metric_calls_per_round=10**9),
                                 "max_metric_calls_per_round"),
                                (pb.Budget(max_tokens_per_round=10**12), "max_tokens_per_round"),
                                (pb.Budget(max_cost_usd_per_day=1e6), "max_cost_usd_per_day")):
            with pytest.raises(grpc.RpcError) as info:
                user.Evolve(pb.EvolveRequest(user_id="alice", program="editor",
                                             max_iterations=10**6, budget=too_much),
                            metadata=alice, timeout=10)
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert f"budget.{field}" in (info.value.details() or "")
        for bad in (float("nan"), float("inf"), -1.0):
            with pytest.raises(grpc.RpcError) as info:
                user.Evolve(pb.EvolveRequest(user_id="alice", program="editor",
                                             budget=pb.Budget(max_cost_usd_per_round=bad)),
                            metadata=alice, timeout=10)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert (info.value.details() or "").startswith("budget.max_cost_usd_per_round")
        assert runs(running_daemon) == []  # refused: no round was started

        lowered = user.Evolve(pb.EvolveRequest(user_id="alice", program="editor",
                                               budget=pb.Budget(max_metric_calls_per_round=60)),
                              metadata=alice, timeout=10).run_id
        final = list(admin.WatchRun(pb.WatchRunRequest(run_id=lowered), timeout=60))[-1].run
        assert final.status == pb.RUN_STATUS_SUCCEEDED, final.message
        # The request's lower cap holds; what neither set is the daemon's finite default.
        caps = final.budget
        assert caps.max_metric_calls_per_round == 60 and final.metric_calls <= 60
        assert (caps.max_tokens_per_round, caps.max_cost_usd_per_round,
                caps.max_metric_calls_per_day, caps.max_tokens_per_day,
                caps.max_cost_usd_per_day) == (
            DEFAULT_CAPS.max_tokens_per_round, DEFAULT_CAPS.max_cost_usd_per_round,
            DEFAULT_CAPS.max_metric_calls_per_day, DEFAULT_CAPS.max_tokens_per_day,
            DEFAULT_CAPS.max_cost_usd_per_day)

        raised = admin.Evolve(pb.EvolveRequest(
            user_id="alice", program="editor", budget=pb.Budget(max_metric_calls_per_round=500)),
            timeout=10).run_id
        final = list(admin.WatchRun(pb.WatchRunRequest(run_id=raised), timeout=60))[-1].run
        assert final.budget.max_metric_calls_per_round == 500
