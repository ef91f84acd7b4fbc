"""WatchRun always ends with how the run ended, even for a reader slower than the round."""

from __future__ import annotations

import time

import grpc

from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import RunningDaemon
from tests.doubles.openai_server import OpenAIDouble
from tests.rounds.test_manager import feed, register

TERMINAL = {pb.RUN_STATUS_SUCCEEDED, pb.RUN_STATUS_FAILED}


def test_a_reader_slower_than_the_round_still_ends_on_the_final_state(
    running_daemon: RunningDaemon, double: OpenAIDouble
) -> None:
    with grpc.insecure_channel(running_daemon.target) as channel:
        stub = pbg.GepadStub(channel)
        register(stub, double.api_base, max_iterations_per_round=2)
        for round_no, user in enumerate(("alice", "bob")):
            feed(stub, user, 30)
            run_id = stub.Evolve(pb.EvolveRequest(user_id=user, program="editor")).run_id
            seen = []
            for progress in stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60):
                seen.append(progress)
                # The round publishes and finishes while this reader sleeps on each message.
                time.sleep(0.3 if round_no else 0.05 * len(seen))
            final = stub.GetRun(pb.GetRunRequest(run_id=run_id))
            assert final.status in TERMINAL, final
            assert seen[-1].run == final, (seen[-1].event, seen[-1].run.status)
            assert [p for p in seen if p.run.status in TERMINAL] == [seen[-1]]
