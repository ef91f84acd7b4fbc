"""The daemon's log as a person reads it: a failed round is one line saying why, and libraries'
chatter (litellm's per-call lines and its "Give Feedback" banner, apscheduler's job lines) is
not there unless ``--log-level debug``."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc._cython import cygrpc

from gepad.logs import configure_logging
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.doubles.openai_server import OpenAIDouble
from tests.rounds.test_manager import feed, register

CHATTER = ("Give Feedback", "Get Help", "Adding job tentatively", "LiteLLM", "apscheduler")


def serve(root: Path, *flags: str) -> tuple[subprocess.Popen[bytes], Path]:
    env = {**os.environ, "GEPAD_STATE_DIR": str(root / "state"),
           "GEPAD_RUNTIME_DIR": str(root / "run"), "GEPAD_CONFIG": str(root / "gepad.toml"),
           "GEPAD_TEST_KEY": "not-a-real-key"}
    (root / "gepad.toml").touch()
    log = (root / "daemon.log").open("wb")
    # stdout too: litellm prints its banner there.
    proc = subprocess.Popen([sys.executable, "-m", "gepad", "serve", *flags], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    socket = root / "run" / "gepad.sock"
    deadline = time.monotonic() + 60
    while not socket.exists():
        alive = proc.poll() is None and time.monotonic() < deadline
        assert alive, (root / "daemon.log").read_text()
        time.sleep(0.05)
    return proc, socket


def failed_round(daemon_root: Path, *flags: str) -> tuple[str, str]:
    proc, socket = serve(daemon_root, *flags)
    try:
        with OpenAIDouble() as double, grpc.insecure_channel(f"unix://{socket}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = pbg.GepadStub(channel)
            register(stub, double.api_base, max_iterations_per_round=1)
            feed(stub, "alice", 30)
            double.fail("task-double", 401, "Incorrect API key provided")
            run_id = stub.Evolve(pb.EvolveRequest(user_id="alice", program="editor")).run_id
            final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
            assert final.status == pb.RUN_STATUS_FAILED, final.message
            # A watcher that goes away is a normal disconnect.
            watch = stub.WatchPrompt(pb.WatchPromptRequest(user_id="alice", program="editor"))
            next(watch)
            watch.cancel()
    finally:
        proc.terminate()
        proc.wait(30)
    return run_id, (daemon_root / "daemon.log").read_text()


def test_a_failed_round_is_one_line_with_its_cause_and_no_library_chatter(
    daemon_root: Path,
) -> None:
    run_id, log = failed_round(daemon_root)
    failed = [line for line in log.splitlines() if run_id in line and "failed" in line]
    assert len(failed) == 1, log
    assert " WARNING gepad.rounds.manager: " in failed[0] and "Incorrect API key" in failed[0]
    for noise in CHATTER:
        assert noise not in log, (noise, log)
    assert "Traceback" not in log and " ERROR " not in log, log


def test_debug_shows_the_libraries_again(daemon_root: Path) -> None:
    _, log = failed_round(daemon_root, "--log-level", "debug")
    assert "apscheduler" in log and "LiteLLM" in log
    assert "Give Feedback" not in log  # printed, not logged: never useful in a daemon


@pytest.mark.parametrize("level", ["info", "debug"])
def test_a_send_on_a_stream_whose_client_left_is_not_an_error(
    level: str, caplog: pytest.LogCaptureFixture
) -> None:
    # What grpc's aio server logs when a server stream's client went away mid-send.
    configure_logging(level)
    caplog.set_level(logging.DEBUG)
    try:
        raise cygrpc.ExecuteBatchError("Failed \"execute_batch\": (SendMessageOperation)")
    except cygrpc.ExecuteBatchError:
        logging.getLogger("grpc._cython.cygrpc").exception("Unexpected error in stream")
    assert all(r.levelno < logging.ERROR and not r.exc_info for r in caplog.records)
