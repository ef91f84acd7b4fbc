"""A daemon fed a user's labels: its round calibrates the user's evaluators, generates one for
the user's failure mode, decides promotion with the gating ones, and `gepad evaluators` shows
them (to the user and to an admin, who also sees the program's modes across users)."""

from __future__ import annotations

import json

import grpc
import pytest

from gepad.cli.main import main
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import RunningDaemon
from tests.doubles.openai_server import OpenAIDouble
from tests.rounds.test_manager import register


def labels(user: str, n: int) -> list[pb.FeedbackEvent]:
    """n corrected lowercase answers (the user's failure mode) and n accepted uppercase ones."""
    def ask(i: int) -> list[pb.ChatMessage]:
        return [pb.ChatMessage(role="user", content=f"question {i}")]

    fails = [pb.FeedbackEvent(
        event_id=f"{user}-bad-{i}", user_id=user, program="editor",
        kind=pb.FEEDBACK_KIND_CORRECTION, input=ask(i), output=f"ok: question {i}",
        correction=f"OK: QUESTION {i}", comment="I want answers in uppercase")
        for i in range(n)]
    passes = [pb.FeedbackEvent(
        event_id=f"{user}-ok-{i}", user_id=user, program="editor",
        kind=pb.FEEDBACK_KIND_ACCEPTANCE, input=ask(100 + i), output=f"OK: QUESTION {100 + i}")
        for i in range(n)]
    return fails + passes


def test_a_round_calibrates_the_users_evaluators_and_gepad_evaluators_shows_them(
    running_daemon: RunningDaemon, double: OpenAIDouble, capsys: pytest.CaptureFixture[str],
) -> None:
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=2)
        for user in ("alice", "bob"):
            assert stub.StreamFeedback(iter(labels(user, 30))).stored == 60
        before = stub.ListEvaluators(pb.ListEvaluatorsRequest(user_id="alice", program="editor"))
        assert not before.HasField("updated_at") and not before.evaluators
        for user in ("alice", "bob"):
            run_id = stub.Evolve(pb.EvolveRequest(user_id=user, program="editor")).run_id
            progress = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))
            final = progress[-1].run
            assert final.status == pb.RUN_STATUS_SUCCEEDED, final.message
            assert final.promoted, final.message
            assert ("promotion decided by gating evaluators: judge; fm_uppercase may block a "
                    "regression on its failure mode") in final.message

        admin = stub.ListEvaluators(pb.ListEvaluatorsRequest(user_id="alice", program="editor"))
    statuses = {e.name: (e.kind, e.origin, e.status) for e in admin.evaluators}
    assert statuses == {
        "reference": ("reference", "built-in", "advisory"),
        "judge": ("judge", "built-in", "gating"),
        "fm_uppercase": ("rule", "generated", "gating"),
    }
    log = [entry.text for entry in admin.log]
    assert log[0].startswith("generated rule evaluator fm_uppercase for failure mode uppercase: "
                             "a rule agrees with the labels it was derived from (MCC 1.00")
    assert "calibrated judge (first calibration): gating, MCC 1.00" in " ".join(log)
    rule = next(e for e in admin.evaluators if e.name == "fm_uppercase")
    assert rule.checks == ["must_not_match: (?-i:[a-z])"]
    assert rule.calibration.mcc == pytest.approx(1.0) and rule.calibration.n >= 10
    assert rule.calibration.kappa == pytest.approx(1.0)
    reference = next(e for e in admin.evaluators if e.name == "reference")
    assert not reference.calibration.HasField("mcc")
    assert reference.calibration.degenerate.startswith("people rejected every labelled output")
    assert (admin.covered_modes, admin.tracked_modes, admin.accepted_outputs) == (1, 1, 30)
    (mode,) = admin.failure_modes
    assert (mode.name, mode.failures, mode.corrections, list(mode.evaluators), mode.covered,
            mode.shared_by_users) == ("uppercase", 30, 30, ["fm_uppercase"], True, 2)
    assert [(m.name, list(m.users)) for m in admin.program_failure_modes] == [
        ("uppercase", ["alice", "bob"])]

    # A user's token reaches only that user's evaluators, and names no other user.
    token = [("authorization", f"Bearer {running_daemon.user_token('alice')}")]
    with grpc.insecure_channel(running_daemon.tcp_target) as tcp:
        user_stub = pbg.GepadStub(tcp)
        own = user_stub.ListEvaluators(
            pb.ListEvaluatorsRequest(user_id="alice", program="editor"), metadata=token)
        assert own.evaluators == admin.evaluators and not own.program_failure_modes
        with pytest.raises(grpc.RpcError) as denied:
            user_stub.ListEvaluators(
                pb.ListEvaluatorsRequest(user_id="bob", program="editor"), metadata=token)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as bad:
            user_stub.ListEvaluators(
                pb.ListEvaluatorsRequest(user_id="alice", program="no such"), metadata=token)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    capsys.readouterr()
    assert main(["--target", running_daemon.target, "evaluators", "alice", "editor"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith("eval coverage: 1 of 1 failure modes have a gating evaluator "
                              "(100%); 30 accepted outputs")
    table = text[2:6]
    assert table[0].split() == ["EVALUATOR", "KIND", "STATUS", "FAILURE", "MODE", "VERSION",
                                "CALIBRATION"]
    assert table[3].split()[:4] == ["fm_uppercase", "rule", "gating", "uppercase"]
    assert "MCC 1.00, kappa 1.00, TPR 1.00, TNR 1.00, n " in table[3]
    assert any(line.startswith("- fm_uppercase: MCC 1.00 on ") and line.endswith(
        "(fails an output scored below 1.00)") for line in text)
    assert any(line.startswith("- uppercase (30 failures, 30 corrections; covered by "
                               "fm_uppercase; 2 users share it)") for line in text)
    assert "across the program's users:" in text
    assert main(["--target", running_daemon.target, "evaluators", "alice", "editor",
                 "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["covered_modes"] == 1 and len(as_json["evaluators"]) == 3
    assert main(["--target", running_daemon.target, "evaluators", "nobody", "editor"]) == 0
    assert capsys.readouterr().out.startswith("no evaluators yet: the next round for nobody")


def test_a_round_that_nothing_can_decide_says_so_and_spends_nothing(
    running_daemon: RunningDaemon, double: OpenAIDouble,
) -> None:
    # This user rejects answers in uppercase; the judge (and every evaluator generated from it)
    # rewards uppercase, so the labels turn it off, and with no correction the reference check
    # has nothing to compare: no evaluator could tell a better prompt from the served one.
    def ask(i: int) -> list[pb.ChatMessage]:
        return [pb.ChatMessage(role="user", content=f"question {i}")]

    events = [pb.FeedbackEvent(
        event_id=f"carol-bad-{i}", user_id="carol", program="editor",
        kind=pb.FEEDBACK_KIND_REJECTION, input=ask(i), output=f"OK: QUESTION {i}",
        comment="please stop shouting") for i in range(30)]
    events += [pb.FeedbackEvent(
        event_id=f"carol-ok-{i}", user_id="carol", program="editor",
        kind=pb.FEEDBACK_KIND_ACCEPTANCE, input=ask(100 + i), output=f"ok: question {100 + i}")
        for i in range(30)]
    with grpc.insecure_channel(running_daemon.target) as ch:
        stub = pbg.GepadStub(ch)
        register(stub, double.api_base, max_iterations_per_round=2)
        assert stub.StreamFeedback(iter(events)).stored == 60
        reflections = double.calls["reflect-double"]
        run_id = stub.Evolve(pb.EvolveRequest(user_id="carol", program="editor")).run_id
        final = list(stub.WatchRun(pb.WatchRunRequest(run_id=run_id), timeout=60))[-1].run
        judge = {e.name: e.status for e in stub.ListEvaluators(
            pb.ListEvaluatorsRequest(user_id="carol", program="editor")).evaluators}
    assert final.status == pb.RUN_STATUS_SUCCEEDED and not final.promoted
    assert final.message.startswith("no decision: no evaluator can measure a new prompt's gain "
                                    "yet: the judge is off: MCC -1.00"), final.message
    assert "the reference check alone cannot" in final.message
    assert final.metric_calls == 0 and double.calls["reflect-double"] == reflections
    assert double.calls["judge-double"] > 0  # the calibration asked it; the search never ran
    assert judge["judge"] == "off" and judge["reference"] == "advisory"
