"""The ``gepad`` command against the real daemon (``running_daemon``), run in-process."""

from __future__ import annotations

import io
import json
import shutil
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from gepad.cli import main
from gepad.client import Client
from gepad.v1 import gepad_pb2 as pb
from tests.conftest import DaemonThread, RunningDaemon, make_settings, short_tempdir
from tests.doubles.openai_server import OpenAIDouble

PROGRAM = "editor.system"
SEED = "You are a careful editor."


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def gepad(
    capsys: pytest.CaptureFixture[str], running_daemon: RunningDaemon
) -> Iterator[GepadRunner]:
    with Client(running_daemon.target) as client:
        client.upsert_program(pb.Program(
            name=PROGRAM, seed_components={"system": SEED},
            task_model=pb.ModelSettings(model="openai/gpt-4o-mini", api_key_env="OPENAI_API_KEY"),
        ))
    yield GepadRunner(capsys, running_daemon)


class GepadRunner:
    """Runs ``gepad --target <the test daemon> ARGS`` and captures what it printed."""

    def __init__(self, capsys: pytest.CaptureFixture[str], daemon: RunningDaemon) -> None:
        self.capsys = capsys
        self.daemon = daemon

    def __call__(self, *argv: str, env: Mapping[str, str] | None = None, target: bool = True
                 ) -> Result:
        self.capsys.readouterr()
        args = ["--target", self.daemon.target, *argv] if target else list(argv)
        code = main(args, env=env or {})
        captured = self.capsys.readouterr()
        assert "Traceback" not in captured.err
        return Result(code, captured.out, captured.err)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A short directory of our own (Unix socket paths must stay under ~107 bytes)."""
    root = short_tempdir()
    yield root
    shutil.rmtree(root, ignore_errors=True)


def edit(gepad: GepadRunner, event_id: str, text: str, user: str = "alice") -> None:
    result = gepad("feedback", user, PROGRAM, "--kind", "prompt_edit", "--event-id", event_id,
                   "--component", f"system={text}")
    assert result.code == 0, result.err


# ---------------------------------------------------------------- serving


def test_prompt_prints_components_version_and_pin(gepad: GepadRunner) -> None:
    result = gepad("prompt", "alice", PROGRAM)
    assert result.code == 0
    assert "alice / editor.system" in result.out
    assert "version 0" in result.out and "not pinned" in result.out
    assert "[system]\nYou are a careful editor." in result.out

    as_json = gepad("prompt", "alice", PROGRAM, "--json").json()
    assert isinstance(as_json, dict)
    assert as_json["components"] == {"system": SEED}
    assert as_json["version"] == 0 and as_json["pinned"] is False
    assert as_json["candidate_id"]

    raw = gepad("prompt", "alice", PROGRAM, "--component", "system")
    assert raw.out == SEED


def test_feedback_records_once_and_reports_duplicates(gepad: GepadRunner) -> None:
    argv = ["feedback", "alice", PROGRAM, "--kind", "correction", "--input", "Fix: teh cat",
            "--output", "teh cat", "--correction", "the cat", "--comment", "typo left",
            "--dimension", "faithfulness", "--event-id", "ev-1"]
    first = gepad(*argv)
    assert first.code == 0 and "recorded event ev-1" in first.out
    again = gepad(*argv, "--json").json()
    assert isinstance(again, dict)
    assert again["event_id"] == "ev-1" and again["duplicate"] is True and again["example_id"]
    rating = gepad("feedback", "alice", PROGRAM, "--kind", "rating", "--input", "q",
                   "--output", "a", "--score", "0.8")
    assert rating.code == 0

    bad = gepad("feedback", "alice", PROGRAM, "--kind", "rating", "--input", "q",
                "--output", "a", "--score", "3")
    assert bad.code == 1
    assert bad.err.startswith("error: INVALID_ARGUMENT: ") and "score" in bad.err


def test_feedback_file_stores_every_valid_line_and_names_each_refused_one(
    gepad: GepadRunner, tmp_path: Path,
) -> None:
    good: list[dict[str, object]] = [
        {"kind": "acceptance", "input": "hi", "output": "hello"},
        {"kind": "rejection", "input": [{"role": "user", "content": "long?"}],
         "output": "very long", "comment": "too long", "user_id": "bob"},
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in good) + "\n\n")

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(good[0]) + "\n" + json.dumps({**good[0], "score": 9,
                                                           "kind": "rating"}) + "\n")
    failed = gepad("feedback", "alice", PROGRAM, "--file", str(bad))
    assert failed.code == 1 and "stored 1 of 2 events" in failed.out
    assert f"{bad}:2: refused (event_id jsonl-" in failed.err
    assert "event.score: must be within 0..1, got 9.0" in failed.err

    stored = gepad("feedback", "alice", PROGRAM, "--file", str(path), "--json")
    # The first line of bad.jsonl equals the first line here: it was stored then, once.
    assert stored.json() == {"stored": 1, "duplicates": 1, "refused": []}
    # Ids derived from content make re-sending the file harmless.
    again = gepad("feedback", "alice", PROGRAM, "--file", str(path))
    assert again.code == 0 and "stored 0 of 2 events from" in again.out
    assert "(2 already recorded)" in again.out

    typo = tmp_path / "typo.jsonl"
    typo.write_text('{"kind": "acceptance", "inptu": "x"}\n')
    result = gepad("feedback", "alice", PROGRAM, "--file", str(typo))
    assert result.code == 2 and f"{typo}:1: unknown field(s) inptu" in result.err


def test_lineage_rollback_by_short_id_and_unpin(gepad: GepadRunner) -> None:
    edit(gepad, "edit-1", "Only fix typos.")
    lineage = gepad("lineage", "alice", PROGRAM, "--json").json()
    assert isinstance(lineage, dict)
    by_origin = {c["origin"]: c["id"] for c in lineage["candidates"]}
    seed_id = by_origin["CANDIDATE_ORIGIN_SEED"]
    edit_id = by_origin["CANDIDATE_ORIGIN_HUMAN_EDIT"]
    assert lineage["served_candidate_id"] == edit_id

    rolled = gepad("rollback", "alice", PROGRAM, seed_id[:8], "--note", "too terse")
    assert rolled.code == 0, rolled.err
    assert "rolled back alice / editor.system to seed" in rolled.out and "pinned" in rolled.out

    tree = gepad("lineage", "alice", PROGRAM).out.splitlines()
    assert tree[0].startswith(f"{seed_id[:8]}  seed  ◀ served (pinned)")
    assert tree[1].startswith(f"└── {edit_id[:8]}  human_edit")
    history = "\n".join(tree)
    assert "human_edit" in history and "rollback" in history and "too terse" in history

    unpinned = gepad("unpin", "alice", PROGRAM)
    assert unpinned.code == 0 and "not pinned" in unpinned.out

    missing = gepad("rollback", "alice", PROGRAM, "doesnotexist")
    assert missing.code == 1 and missing.err.startswith("error: NOT_FOUND: ")


def test_watch_prints_current_prompt_then_changes(
    gepad: GepadRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watch runs in a thread; its stdout is a buffer we can look at while it runs.
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    codes: list[int] = []
    argv = ["--target", gepad.daemon.target, "watch", "carol", PROGRAM, "--count", "2", "--json"]
    thread = threading.Thread(target=lambda: codes.append(main(argv, env={})))
    thread.start()
    deadline = time.monotonic() + 10
    while not out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    # The current prompt is printed, so the watch is subscribed: now change it.
    with Client(gepad.daemon.target) as client:
        client.record_feedback(user_id="carol", program=PROGRAM, kind="prompt_edit",
                               event_id="w", edited_components={"system": "Watched."})
    thread.join(10)
    assert not thread.is_alive() and codes == [0]
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [p["version"] for p in lines] == [0, 1]
    assert lines[1]["components"]["system"] == "Watched."


# ---------------------------------------------------------------- programs


def test_programs_set_show_and_list(gepad: GepadRunner, tmp_path: Path) -> None:
    made = gepad("programs", "set", "support-bot", "--system", "You help customers.",
                 "--task-model", "openai/gpt-4o-mini", "--api-key-env", "OPENAI_API_KEY",
                 "--judge-model", "openai/gpt-4o", "--set", "evolution.minibatch_size=4")
    assert made.code == 0, made.err
    assert "created program support-bot (revision 1)" in made.out

    # Changing one setting keeps the others.
    changed = gepad("programs", "set", "support-bot", "--description", "Helps", "--json").json()
    assert isinstance(changed, dict)
    program = changed["program"]
    assert program["revision"] == 2 and program["description"] == "Helps"
    assert program["seed_components"] == {"system": "You help customers."}
    assert program["evolution"]["minibatch_size"] == 4
    assert program["judge_model"]["model"] == "openai/gpt-4o"

    toml = tmp_path / "program.toml"
    toml.write_text(
        'name = "from-file"\n[seed_components]\nsystem = "From a file."\n'
        '[task_model]\nmodel = "ollama/llama3"\napi_base = "http://127.0.0.1:11434"\n'
        "[budget]\nmax_metric_calls_per_round = 200\n"
    )
    assert gepad("programs", "set", "--file", str(toml)).code == 0
    shown = gepad("programs", "show", "from-file")
    assert "ollama/llama3 at http://127.0.0.1:11434" in shown.out
    assert "max_metric_calls_per_round=200" in shown.out

    listing = gepad("programs")
    assert [line.split()[0] for line in listing.out.splitlines()] == [
        "NAME", "editor.system", "from-file", "support-bot",
    ]
    names = [p["name"] for p in gepad("programs", "list", "--json").json()["programs"]]  # type: ignore[index]
    assert sorted(names) == ["editor.system", "from-file", "support-bot"]

    bad = gepad("programs", "set", "support-bot", "--set", "evolution.nope=1")
    assert bad.code == 2 and "--set evolution.nope" in bad.err


def test_adapters_says_when_the_daemon_has_no_targets(gepad: GepadRunner) -> None:
    result = gepad("adapters")
    assert (result.code, result.out) == (
        0, "no adapter targets: add [[adapters]] tables to the daemon's config (README.md, "
           "\"Adapters\")\n")
    # Only admin may list them: targets name users and where their prompts go.
    alice = gepad("adapters", "--target", gepad.daemon.tcp_target, "--token",
                  gepad.daemon.user_token("alice"), target=False)
    assert alice.code == 1 and alice.err.startswith("error: PERMISSION_DENIED: ")


# ---------------------------------------------------------------- errors and access


def test_daemon_errors_print_status_and_message(gepad: GepadRunner) -> None:
    result = gepad("prompt", "alice", "no.such.program")
    assert result.code == 1
    assert result.err.startswith("error: NOT_FOUND: program 'no.such.program' does not exist")
    usage = gepad("feedback", "alice", PROGRAM)
    assert usage.code == 2 and "needs USER, PROGRAM and --kind" in usage.err


def test_unreachable_daemon_says_where_it_looked(gepad: GepadRunner, scratch: Path) -> None:
    root = scratch
    sock = root / "nothing.sock"
    result = gepad("--socket", str(sock), "prompt", "alice", PROGRAM, target=False)
    assert result.code == 3
    assert f"cannot reach the gepad daemon at unix://{sock}" in result.err
    assert "comes from --socket" in result.err
    assert f"gepad --socket {sock} serve" in result.err

    env = {"GEPAD_RUNTIME_DIR": str(root / "run"), "GEPAD_STATE_DIR": str(root / "state"),
           "XDG_CONFIG_HOME": str(root / "config")}
    defaults = gepad("runs", "alice", PROGRAM, env=env, target=False)
    assert defaults.code == 3
    assert f"unix://{root}/run/gepad.sock" in defaults.err
    assert "the default settings" in defaults.err and "`gepad serve`" in defaults.err


def test_tcp_needs_a_token_and_takes_it_from_the_environment(gepad: GepadRunner) -> None:
    tcp = gepad.daemon.tcp_target
    anonymous = gepad("--target", tcp, "programs", target=False)
    assert anonymous.code == 1 and anonymous.err.startswith("error: UNAUTHENTICATED: ")
    env = {"GEPAD_TOKEN": gepad.daemon.admin_token}
    assert gepad("--target", tcp, "programs", env=env, target=False).code == 0
    alice = gepad("prompt", "bob", PROGRAM, "--target", tcp, "--token",
                  gepad.daemon.user_token("alice"), target=False)
    assert alice.code == 1 and alice.err.startswith("error: PERMISSION_DENIED: ")


@pytest.fixture
def bare_server(scratch: Path) -> Iterator[str]:
    """A gRPC server with no services: every gepad RPC is UNIMPLEMENTED, as in a daemon build
    without the evolution engine."""
    root = scratch
    server = grpc.server(futures.ThreadPoolExecutor(2))
    server.add_insecure_port(f"unix:{root}/bare.sock")
    server.start()
    yield f"unix://{root}/bare.sock"
    server.stop(None)


def test_evolution_commands_explain_a_daemon_without_the_engine(
    gepad: GepadRunner, bare_server: str
) -> None:
    for argv in (["evolve", "alice", PROGRAM, "--wait"], ["runs", "alice", PROGRAM],
                 ["frontier", "alice", PROGRAM]):
        result = gepad("--target", bare_server, *argv, target=False)
        assert result.code == 2, argv
        assert result.err.startswith("evolution is not available in this daemon build: ")
        assert len(result.err.strip().splitlines()) == 1
    # Elsewhere UNIMPLEMENTED is an ordinary error.
    other = gepad("--target", bare_server, "programs", target=False)
    assert other.code == 1 and other.err.startswith("error: UNIMPLEMENTED")


def test_evolve_waits_with_progress_then_runs_frontier_and_lineage_show_it(
    gepad: GepadRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every model is the loopback OpenAI double: the user wants answers in UPPERCASE.
    monkeypatch.setenv("GEPAD_TEST_KEY", "not-a-real-key")
    with OpenAIDouble() as double:
        models = []
        for flag, name in (("--task-model", "task-double"), ("--judge-model", "judge-double"),
                           ("--reflection-model", "reflect-double")):
            models += [flag, f"openai/{name}"]
        made = gepad("programs", "set", "editor", "--system", SEED, *models,
                     "--api-base", double.api_base, "--api-key-env", "GEPAD_TEST_KEY",
                     "--set", "evolution.max_iterations_per_round=1")
        assert made.code == 0, made.err
        events = tmp_path / "events.jsonl"
        events.write_text("\n".join(json.dumps({
            "kind": "correction", "input": f"question {i}", "output": f"ok: question {i}",
            "correction": f"OK: QUESTION {i}", "comment": "I want answers in uppercase",
        }) for i in range(20)))
        assert gepad("feedback", "dave", "editor", "--file", str(events)).code == 0

        waited = gepad("evolve", "dave", "editor", "--wait")
        assert waited.code == 0, waited.out + waited.err
        lines = waited.out.splitlines()
        # Not a TTY: one line per event, then the outcome.
        assert lines[0].startswith("started ")
        assert any(line.startswith("promoted ") for line in lines), waited.out
        assert lines[-1].startswith("run ") and " succeeded: " in lines[-1]
        assert "promoted" in lines[-1]

        # --json: each progress event as a JSON line, then the final run.
        streamed = gepad("evolve", "dave", "editor", "--wait", "--json")
        assert streamed.code == 0, streamed.err
        docs = [json.loads(line) for line in streamed.out.splitlines()]
        assert docs[0]["event"] == "started" and docs[0]["run"]["run_id"]
        assert docs[-1]["status"] == "RUN_STATUS_SUCCEEDED"
        assert docs[-1]["run_id"] == docs[0]["run"]["run_id"]

    runs = gepad("runs", "dave", "editor")
    header, *rows = runs.out.splitlines()
    assert header.split()[:3] == ["RUN", "STATUS", "TRIGGER"]
    assert [row.split()[1:3] for row in rows[:2]] == [["succeeded", "manual"]] * 2
    # The round that did not promote says why, under the table.
    assert [note.split(": ", 1)[1].split(":")[0] for note in rows[2:]] == ["not promoted"]

    frontier = gepad("frontier", "dave", "editor")
    assert "◀ served" in frontier.out and "reflection" in frontier.out
    served = gepad("prompt", "dave", "editor", "--json").json()
    assert isinstance(served, dict) and "UPPERCASE" in served["components"]["system"]
    tree = gepad("lineage", "dave", "editor").out
    assert "└── " in tree and "reflection  ◀ served" in tree and "promotion" in tree

    rubric = gepad("rubric", "dave", "editor").out.splitlines()
    assert rubric[0].startswith("1 items from 20 feedback events (version ")
    assert rubric[1] == ("- uppercase (all requests): This user wants every answer in uppercase "
                         "letters.")
    assert rubric[2].startswith("    evidence: ") and len(rubric[2].split(", ")) == 20
    as_json = gepad("rubric", "dave", "editor", "--json").json()
    assert isinstance(as_json, dict) and as_json["items"][0]["name"] == "uppercase"
    never = gepad("rubric", "nobody", "editor")
    assert never.code == 0 and never.out.startswith("no rubric yet: the next round for nobody")

    nobody = gepad("evolve", "nobody", "editor")
    assert nobody.code == 1 and nobody.err.startswith("error: NOT_FOUND: ")


def test_a_round_that_cannot_run_says_why_in_evolve_and_runs(
    gepad: GepadRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEPAD_MISSING_KEY", raising=False)
    made = gepad("programs", "set", "editor", "--system", SEED, "--task-model", "openai/x",
                 "--api-key-env", "GEPAD_MISSING_KEY")
    assert made.code == 0, made.err
    for i in range(3):
        gepad("feedback", "erin", "editor", "--kind", "rejection", "--input", f"q{i}",
              "--output", "meh", "--comment", "too long")
    waited = gepad("evolve", "erin", "editor", "--wait")
    assert waited.code != 0
    why = ("failed before any model call: environment variable GEPAD_MISSING_KEY is not set "
           "(model openai/x)")
    assert waited.out.splitlines()[-1].endswith(f" {why} (0 iterations, 0 LLM calls, $0.0000)")
    runs = gepad("runs", "erin", "editor").out.splitlines()
    assert runs[1].split()[1] == "failed" and runs[-1].endswith(why)
    listed = gepad("runs", "erin", "editor", "--json").json()
    assert isinstance(listed, dict) and listed["runs"][0]["message"] == why


# ---------------------------------------------------------------- demo


def test_demo_once_walks_through_the_loop_and_can_be_repeated(
    capsys: pytest.CaptureFixture[str], scratch: Path
) -> None:
    root = scratch
    env = {"GEPAD_RUNTIME_DIR": str(root / "run"), "GEPAD_STATE_DIR": str(root / "state"),
           "XDG_CONFIG_HOME": str(root / "config")}
    assert main(["demo", "--once"], env=env) == 0
    first = capsys.readouterr().out
    assert "models: a SIMULATED LLM at http://127.0.0.1:" in first
    for step in ("Register the program demo.assistant", "Record feedback from demo-user",
                 "A round: the simulated LLM", "to served (promoted", "human_edit",
                 "Roll back to the round's winner"):
        assert step in first, step
    assert f"gepad is serving on unix://{root}/run/gepad.sock; try: gepad prompt demo-user " \
           "demo.assistant" in first
    # The scratch repository's AGENTS.md followed the prompt, and the person's lines stayed.
    agents = (root / "state" / "demo-repo" / "AGENTS.md").read_text()
    assert agents.startswith("# Demo project\n\nRun `make test` before committing.\n")
    assert "Answer in one sentence, without small talk.\n<!-- gepad:end -->" in agents
    assert (root / "state" / "demo-repo" / "CLAUDE.md").read_text() == "@AGENTS.md\n"

    assert main(["demo", "--once"], env=env) == 0
    second = capsys.readouterr().out
    assert "already recorded" in second and "unpinned, so a round may replace it" in second

    # Both runs end in the same state: the round's winner served, pinned, after the person's
    # edit was adopted. The daemon is gone after --once.
    assert not (root / "run" / "gepad.sock").exists()
    assert main(["demo", "--once", "--json"], env=env) == 0
    steps = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    prompts = [s["data"] for s in steps if s["step"] == "prompt"]
    edited, last = prompts[-2], prompts[-1]
    assert edited["pinned"] is True and edited["components"]["system"].endswith(
        "Answer in one sentence, without small talk. When a command is involved, show it in "
        "backticks.")
    assert last["pinned"] is True
    assert last["components"]["system"] == ("You are a helpful assistant. Answer the user's "
                                            "question. Answer in one sentence, without small "
                                            "talk.")


def test_programs_show_says_an_unset_role_model_is_the_task_model(gepad: GepadRunner) -> None:
    shown = gepad("programs", "show", PROGRAM)
    assert shown.code == 0
    lines = {line.split(":")[0].strip(): line.split(":", 1)[1].strip()
             for line in shown.out.splitlines() if line.startswith("  ") and ":" in line}
    assert lines["task model"].startswith("openai/gpt-4o-mini")
    assert lines["reflection model"] == lines["judge model"] == "(the task model)"
    assert lines["budget"] == "daemon defaults"


def test_json_errors_are_one_json_document_on_stderr(gepad: GepadRunner, scratch: Path) -> None:
    missing = gepad("--json", "prompt", "alice", "no.such.program")
    assert missing.code == 1 and missing.out == ""
    error = json.loads(missing.err)["error"]
    assert (error["code"], error["exit_status"]) == ("NOT_FOUND", 1)
    assert error["message"].startswith("program 'no.such.program' does not exist")
    assert "gepad programs set no.such.program" in error["message"]

    sock = scratch / "nothing.sock"
    away = gepad("--json", "--socket", str(sock), "prompt", "alice", PROGRAM, target=False)
    error = json.loads(away.err)["error"]
    assert (error["code"], error["exit_status"], away.code) == ("UNAVAILABLE", 3, 3)
    assert f"unix://{sock}" in error["message"]
    assert any(f"gepad --socket {sock} serve" in hint for hint in error["hints"])

    bad = scratch / "bad.toml"
    bad.write_text("nightly_corn = 1\n")
    config = gepad("--json", "--config", str(bad), "prompt", "alice", PROGRAM, target=False)
    error = json.loads(config.err)["error"]
    assert (error["code"], error["exit_status"]) == ("CONFIG", 2)
    assert "nightly_corn" in error["message"]


def test_watch_says_when_it_lost_the_daemon_and_when_it_is_back(
    capsys: pytest.CaptureFixture[str], daemon_root: Path
) -> None:
    settings = make_settings(daemon_root, tcp=False)
    daemon = DaemonThread(settings)
    daemon.wait_ready()
    with Client.from_settings(settings) as client:
        client.upsert_program(pb.Program(name=PROGRAM, seed_components={"system": SEED}))
    codes: list[int] = []
    watcher = threading.Thread(target=lambda: codes.append(main(
        ["--socket", str(settings.socket_path), "watch", "alice", PROGRAM, "--count", "2"],
        env={})))
    watcher.start()
    try:
        deadline = time.monotonic() + 30
        while "now:" not in capsys.readouterr().out and time.monotonic() < deadline:
            time.sleep(0.05)
        daemon.stop()
        daemon = DaemonThread(settings)
        daemon.wait_ready()
        with Client.from_settings(settings) as client:
            client.stub.RecordFeedback(pb.RecordFeedbackRequest(event=pb.FeedbackEvent(
                event_id="e1", user_id="alice", program=PROGRAM,
                kind=pb.FEEDBACK_KIND_PROMPT_EDIT, edited_components={"system": "Back."})))
        watcher.join(30)
    finally:
        daemon.stop()
    assert codes == [0]
    err = capsys.readouterr().err
    lost = [line for line in err.splitlines() if "prompt watch lost" in line]
    back = [line for line in err.splitlines() if "prompt watch reconnected" in line]
    assert len(lost) == 1 and "reconnecting" in lost[0] and len(back) == 1, err


def test_one_api_flag_points_every_model_of_the_program_at_the_server(
    gepad: GepadRunner,
) -> None:
    made = gepad("programs", "set", "local-bot", "--system", "Be brief.",
                 "--task-model", "openai/qwen2.5:7b", "--judge-model", "openai/llama3.1:8b")
    assert made.code == 0, made.err
    moved = gepad("programs", "set", "local-bot", "--api-base", "http://127.0.0.1:11434/v1",
                  "--api-key-env", "LOCAL_KEY", "--json").json()
    program = moved["program"]  # type: ignore[index]
    for role in ("task_model", "judge_model"):
        assert program[role]["api_base"] == "http://127.0.0.1:11434/v1", role
        assert program[role]["api_key_env"] == "LOCAL_KEY", role
    # Unset, the reflection model is the task model, its base and key included.
    assert "reflection_model" not in program or not program["reflection_model"].get("model")
