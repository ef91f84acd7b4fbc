"""A round killed with SIGKILL resumes at the next start and ends exactly where an uninterrupted
round with the same seed ends."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import short_tempdir
from tests.doubles.openai_server import OpenAIDouble
from tests.rounds.test_manager import feed, register
from tests.test_daemon import DaemonProcess


def _prepare(daemon: DaemonProcess, api_base: str) -> pbg.GepadStub:
    daemon.start()
    _, stub = daemon.stub()
    register(stub, api_base, max_iterations_per_round=4, max_merges_per_round=1)
    feed(stub, "alice", 24)
    return stub


def _outcome(stub: pbg.GepadStub, run_id: str) -> tuple[pb.Run, set[str], str]:
    final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=120))[-1].run
    lineage = stub.ListLineage(pb.ListLineageRequest(user_id="alice", program="editor"))
    return final, {c.id for c in lineage.candidates}, lineage.served_candidate_id


def test_a_killed_round_resumes_to_the_same_result(double: OpenAIDouble) -> None:
    evolve = pb.EvolveRequest(user_id="alice", program="editor", seed=42)
    roots = [short_tempdir(), short_tempdir()]
    daemons = [DaemonProcess(Path(r)) for r in roots]
    try:
        # Uninterrupted.
        stub = _prepare(daemons[0], double.api_base)
        expected = _outcome(stub, stub.Evolve(evolve).run_id)
        assert expected[0].status == pb.RUN_STATUS_SUCCEEDED and expected[0].iterations >= 1

        # Killed inside its first reflection, after the val scoring step was committed: the
        # reflection model is held, so the kill lands there however loaded the machine is.
        stub = _prepare(daemons[1], double.api_base)
        double.hold("reflect-double")
        run_id = stub.Evolve(evolve).run_id
        assert double.held.wait(60)
        assert daemons[1].proc is not None
        daemons[1].proc.send_signal(signal.SIGKILL)
        daemons[1].proc.wait()
        double.release()
        with sqlite3.connect(daemons[1].db) as conn:
            (status,) = conn.execute("SELECT status FROM runs").fetchone()
            (steps,) = conn.execute("SELECT count(*) FROM evaluations").fetchone()
        assert status == "running" and steps > 0  # interrupted after a committed step
        daemons[1].start()
        _, stub = daemons[1].stub()
        resumed = _outcome(stub, run_id)
        assert resumed[0].status == pb.RUN_STATUS_SUCCEEDED, resumed[0].message
        assert resumed[1] == expected[1]  # the same lineage nodes
        assert resumed[2] == expected[2]  # the same prompt served
        assert (resumed[0].iterations, resumed[0].accepted, resumed[0].promoted) == (
            expected[0].iterations, expected[0].accepted, expected[0].promoted)
    finally:
        for d in daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait()
