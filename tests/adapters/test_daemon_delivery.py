"""Adapters through the real daemon: targets configured in its settings, loaded through their
entry points, fed by the store's served changes; rounds through litellm to the loopback model
double; the editor's edit watch on real files with watchfiles."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import anyio
import grpc
import pytest

from gepad.cli import main
from gepad.daemon import run_daemon
from gepad.settings import ConfigError
from gepad.v1 import gepad_pb2 as pb
from gepad.v1 import gepad_pb2_grpc as pbg
from tests.conftest import DaemonThread, make_settings
from tests.doubles.openai_server import OpenAIDouble
from tests.gepad_adapters.receiver import Receiver

PROGRAM = "editor"
SEED = "You are a careful editor."
SECRET = "webhook-secret-for-tests"
T = TypeVar("T")


def wait_until(what: str, check: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Poll until ``check`` gives something truthy; fail saying ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIDouble]:
    monkeypatch.setenv("GEPAD_TEST_KEY", "not-a-real-key")
    monkeypatch.setenv("GEPAD_TEST_WEBHOOK_SECRET", SECRET)
    with OpenAIDouble() as server:
        yield server


class Daemon:
    """The daemon in a thread with these [[adapters]] tables; stopped on exit."""

    def __init__(self, root: Path, adapters: list[dict[str, Any]]) -> None:
        settings = dataclasses.replace(make_settings(root, tcp=False), adapters=tuple(adapters))
        self.thread = DaemonThread(settings)
        self.thread.wait_ready()
        self.target = f"unix://{settings.socket_path}"
        self.channel = grpc.insecure_channel(self.target)
        self.stub = pbg.GepadStub(self.channel)

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.channel.close()
        self.thread.stop()

    def targets(self) -> dict[str, pb.AdapterTarget]:
        return {t.name: t for t in self.stub.ListAdapters(pb.ListAdaptersRequest()).targets}

    def delivered(self, target: str, user: str = "alice") -> int:
        """The newest version the target confirmed for the user (-1: none)."""
        versions = [d.version for d in self.targets()[target].delivered if d.user_id == user]
        return max(versions, default=-1)

    def wait_delivered(self, target: str, version: int, user: str = "alice") -> None:
        wait_until(f"{target} to deliver version {version} of {user}'s prompt",
                   lambda: self.delivered(target, user) >= version)

    def prompt(self, user: str = "alice") -> pb.Prompt:
        return self.stub.GetPrompt(pb.GetPromptRequest(user_id=user, program=PROGRAM))

    def register(self, api_base: str = "http://127.0.0.1:9/v1") -> None:
        def model(name: str) -> pb.ModelSettings:
            return pb.ModelSettings(model=f"openai/{name}", api_base=api_base,
                                    api_key_env="GEPAD_TEST_KEY")

        self.stub.UpsertProgram(pb.UpsertProgramRequest(program=pb.Program(
            name=PROGRAM, seed_components={"system": SEED}, task_model=model("task-double"),
            judge_model=model("judge-double"), reflection_model=model("reflect-double"),
            evolution=pb.EvolutionSettings(max_iterations_per_round=2),
        )))

    def feed(self, user: str, n: int) -> None:
        self.stub.StreamFeedback(iter([pb.FeedbackEvent(
            event_id=f"{user}-{i}", user_id=user, program=PROGRAM,
            kind=pb.FEEDBACK_KIND_CORRECTION,
            input=[pb.ChatMessage(role="user", content=f"question {i}")],
            output=f"ok: question {i}", correction=f"OK: QUESTION {i}",
            comment="I want answers in uppercase",
        ) for i in range(n)]))

    def evolve(self, user: str = "alice") -> pb.Run:
        run_id = self.stub.Evolve(pb.EvolveRequest(user_id=user, program=PROGRAM)).run_id
        final: pb.Run = list(self.stub.WatchRun(pb.WatchRunRequest(run_id=run_id),
                                                timeout=120))[-1].run
        assert final.status == pb.RUN_STATUS_SUCCEEDED, final.message
        return final

    def edit(self, event_id: str, text: str, user: str = "alice") -> None:
        self.stub.RecordFeedback(pb.RecordFeedbackRequest(event=pb.FeedbackEvent(
            event_id=event_id, user_id=user, program=PROGRAM, kind=pb.FEEDBACK_KIND_PROMPT_EDIT,
            edited_components={"system": text})))

    def history(self, user: str = "alice") -> list[tuple[str, bool]]:
        lineage = self.stub.ListLineage(pb.ListLineageRequest(user_id=user, program=PROGRAM))
        return [(change.reason, change.pinned) for change in lineage.history]


def editor_table(repo: Path, **options: Any) -> dict[str, Any]:
    return {"plugin": "editor", "name": "repo", "user": "alice", "program": PROGRAM,
            "root": str(repo), "files": ["agents", "claude", "cursor"], "settle_seconds": 0.1,
            **options}


def webhook_table(url: str, **options: Any) -> dict[str, Any]:
    return {"plugin": "webhook", "name": "hook", "program": PROGRAM, "url": url,
            "secret_env": "GEPAD_TEST_WEBHOOK_SECRET", "retry_initial_seconds": 0.05,
            "retry_max_seconds": 0.2, **options}


def command_table(log: Path) -> dict[str, Any]:
    # Appends each document it is given to a file, one JSON line each.
    code = "import sys; open(sys.argv[1], 'a').write(sys.stdin.read() + '\\n')"
    return {"plugin": "command", "name": "script", "program": PROGRAM,
            "command": [sys.executable, "-c", code, str(log)]}


def block_of(agents_md: str) -> str:
    start = agents_md.index("\n", agents_md.index("<!-- gepad:begin")) + 1
    return agents_md[start:agents_md.index("<!-- gepad:end -->")].strip()


def test_a_promotion_and_a_rollback_reach_every_built_in_target_once(
    daemon_root: Path, double: OpenAIDouble,
) -> None:
    repo = daemon_root / "repo"
    repo.mkdir()
    (repo / "AGENTS.md").write_text("# Project rules\n\nRun `make test` before committing.\n")
    log = daemon_root / "command.jsonl"
    with Receiver(SECRET.encode()) as receiver, Daemon(daemon_root, [
        editor_table(repo), webhook_table(receiver.url), command_table(log),
    ]) as gepad:
        gepad.register(double.api_base)
        # The repository is alice's: it gets the seed as soon as the program exists.
        gepad.wait_delivered("repo", 0)
        assert block_of((repo / "AGENTS.md").read_text()) == SEED

        gepad.feed("alice", 30)
        final = gepad.evolve()
        assert final.promoted, final.message
        promoted = gepad.prompt()
        assert "UPPERCASE" in promoted.components["system"] and promoted.version == 1
        for target in ("repo", "hook", "script"):
            gepad.wait_delivered(target, 1)

        agents = (repo / "AGENTS.md").read_text()
        assert agents.startswith("# Project rules\n\nRun `make test` before committing.\n\n")
        assert block_of(agents) == promoted.components["system"]
        assert (repo / "CLAUDE.md").read_text() == "@AGENTS.md\n"
        cursor = (repo / ".cursor" / "rules" / "gepad.mdc").read_text()
        assert "\nalwaysApply: true\n" in cursor
        assert cursor.endswith(promoted.components["system"] + "\n")

        seed_id = next(c.id for c in gepad.stub.ListLineage(pb.ListLineageRequest(
            user_id="alice", program=PROGRAM)).candidates if c.origin == pb.CANDIDATE_ORIGIN_SEED)
        gepad.stub.Rollback(pb.RollbackRequest(user_id="alice", program=PROGRAM,
                                               candidate_id=seed_id))
        for target in ("repo", "hook", "script"):
            gepad.wait_delivered(target, 2)
        assert block_of((repo / "AGENTS.md").read_text()) == SEED
        received = receiver.wait_for(2)
        report = gepad.targets()
        assert gepad.history() == [("promotion", False), ("rollback", True)]
    assert [(r.body["version"], r.idempotency_key, r.signed) for r in received] == [
        (1, f"{promoted.candidate_id}:1", True), (2, f"{seed_id}:2", True)]
    assert received[0].body["components"] == dict(promoted.components)
    scripted = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(d["version"], d["candidate_id"]) for d in scripted] == [
        (1, promoted.candidate_id), (2, seed_id)]
    assert all(t.failures == 0 and not t.last_error for t in report.values())


def test_a_persons_edit_of_agents_md_is_served_pinned_and_kept_until_unpinned(
    daemon_root: Path, double: OpenAIDouble,
) -> None:
    repo = daemon_root / "repo"
    repo.mkdir()
    agents = repo / "AGENTS.md"
    with Daemon(daemon_root, [editor_table(repo)]) as gepad:
        gepad.register(double.api_base)
        gepad.wait_delivered("repo", 0)
        mine = "You are a careful editor. Never use emojis."

        # A save in progress: the end marker is not written yet. It is not read.
        content = agents.read_text()
        agents.write_text(content.replace(SEED, mine).replace("<!-- gepad:end -->", ""))
        wait_until("the watch to pass over the half-written block",
                   lambda: "no end marker" in gepad.targets()["repo"].last_edit_note)
        assert gepad.prompt().version == 0

        agents.write_text(content.replace(SEED, mine))
        edited = wait_until("the edit to be served", lambda: (
            p if (p := gepad.prompt()).version == 1 else None))
        assert (dict(edited.components), edited.pinned) == ({"system": mine}, True)
        lineage = gepad.stub.ListLineage(pb.ListLineageRequest(user_id="alice", program=PROGRAM))
        node = next(c for c in lineage.candidates if c.id == edited.candidate_id)
        assert node.origin == pb.CANDIDATE_ORIGIN_HUMAN_EDIT
        assert "adopted and pinned" in gepad.targets()["repo"].last_edit_note
        # The edit goes out to the other files; AGENTS.md already says it.
        gepad.wait_delivered("repo", 1)
        cursor = repo / ".cursor" / "rules" / "gepad.mdc"
        assert cursor.read_text().endswith(mine + "\n")
        assert block_of(agents.read_text()) == mine

        # A round does not replace a pinned prompt: the person's words stay.
        gepad.feed("alice", 30)
        assert "pinned" in gepad.evolve().message
        assert block_of(agents.read_text()) == mine
        # Once unpinned, a round may replace it (this user wants uppercase, which the edit
        # does not ask for), and the repository follows.
        gepad.stub.Unpin(pb.UnpinRequest(user_id="alice", program=PROGRAM))
        assert gepad.evolve().promoted
        promoted = gepad.prompt()
        gepad.wait_delivered("repo", promoted.version)
        assert block_of(agents.read_text()) == promoted.components["system"] != mine

        # An edit of the Cursor rule is an edit too. The watch reads changes in order, so once
        # it is served, gepad's own writes before it were read, and none became an edit.
        cursor.write_text(cursor.read_text().replace(promoted.components["system"], mine))
        wait_until("the rule's edit to be served", lambda: gepad.prompt().version == 4)
        assert dict(gepad.prompt().components) == {"system": mine}
        history = gepad.history()
    assert history == [("human_edit", True), ("unpin", False), ("promotion", False),
                       ("human_edit", True)]


def test_a_table_a_plugin_refuses_stops_the_daemon_at_start_naming_the_key(
    daemon_root: Path,
) -> None:
    settings = dataclasses.replace(make_settings(daemon_root, tcp=False), adapters=(
        {"plugin": "webhook", "program": PROGRAM, "url": "http://127.0.0.1:9/x",
         "secret_env": "GEPAD_TEST_UNSET_SECRET"},))
    with pytest.raises(ConfigError, match=r"^adapters\[0\]\.secret_env: the environment "
                       r"variable GEPAD_TEST_UNSET_SECRET is not set$"):
        anyio.run(partial(run_daemon, settings, handle_signals=False))
    assert not settings.socket_path.exists()


def test_a_failing_target_is_retried_and_reported_while_the_others_deliver(
    daemon_root: Path, double: OpenAIDouble, capsys: pytest.CaptureFixture[str],
) -> None:
    log = daemon_root / "command.jsonl"
    with Receiver(SECRET.encode()) as receiver, Daemon(daemon_root, [
        webhook_table(receiver.url), command_table(log),
    ]) as gepad:
        receiver.statuses = [500] * 10_000  # the receiver is down until the test says
        gepad.register()
        gepad.edit("e1", "Be brief.")
        gepad.wait_delivered("script", 1)
        failing = wait_until("the webhook to fail twice", lambda: (
            t if (t := gepad.targets()["hook"]).failures >= 2 else None))
        assert failing.pending == 1 and not failing.delivered
        assert f"{receiver.url} answered 500: not now" in failing.last_error
        capsys.readouterr()
        assert main(["--target", gepad.target, "adapters"], env={}) == 0
        listed = capsys.readouterr().out.splitlines()
        assert listed[0].split() == ["TARGET", "PLUGIN", "USER/PROGRAM", "DELIVERED", "PENDING",
                                     "STATE"]
        hook = next(line.split(maxsplit=5) for line in listed[1:] if line.startswith("hook "))
        assert hook[:5] == ["hook", "webhook", f"*/{PROGRAM}", "-", "1"]
        assert hook[5].startswith("failing (")
        assert any(line.startswith("hook: last error at ") and "answered 500" in line
                   for line in listed)
        gepad.edit("e2", "Be briefer.")  # while failing: only the newest will go out
        gepad.wait_delivered("script", 2)
        with receiver.posted:
            receiver.statuses.clear()
        gepad.wait_delivered("hook", 2)
        recovered = gepad.targets()["hook"]
        assert (recovered.failures, recovered.pending) == (0, 0)
    assert [(r.body["version"], r.signed) for r in receiver.received] == [(2, True)]
    assert [json.loads(line)["version"] for line in log.read_text().splitlines()] == [1, 2]


def test_a_restart_delivers_what_changed_while_down_and_nothing_again(
    daemon_root: Path, double: OpenAIDouble,
) -> None:
    with Receiver(SECRET.encode()) as receiver:
        with Daemon(daemon_root, [webhook_table(receiver.url)]) as gepad:
            gepad.register()
            gepad.edit("a1", "Alice's first.")
            gepad.edit("b1", "Bob's.", user="bob")
            gepad.wait_delivered("hook", 1)
            gepad.wait_delivered("hook", 1, user="bob")
        with Daemon(daemon_root, []) as gepad:  # run without the webhook configured
            gepad.edit("a2", "Alice's second.")
        with Daemon(daemon_root, [webhook_table(receiver.url)]) as gepad:
            gepad.wait_delivered("hook", 2)
            report = gepad.targets()["hook"]
        received = receiver.wait_for(3)
    assert report.pending == 0
    assert sorted((r.body["user_id"], r.body["version"]) for r in received) == [
        ("alice", 1), ("alice", 2), ("bob", 1)]
    assert received[-1].body["components"] == {"system": "Alice's second."}


def test_a_round_runs_rollouts_through_the_users_dspy_program_and_delivers_into_it(
    daemon_root: Path, double: OpenAIDouble,
) -> None:
    from tests.gepad_adapters import dspy_programs

    saved = daemon_root / "program.json"
    dspy_programs.support().save(str(saved))
    bot = {"plugin": "dspy", "name": "bot", "user": "alice", "program": PROGRAM,
           "path": str(saved), "factory": "tests.gepad_adapters.dspy_programs:support",
           "model": "openai/task-double", "api_base": double.api_base,
           "api_key_env": "GEPAD_TEST_KEY"}
    with Daemon(daemon_root, [bot]) as gepad:
        gepad.register(double.api_base)
        gepad.feed("alice", 30)
        gepad.feed("bob", 30)
        final = gepad.evolve("alice")
        assert final.promoted, final.message
        # alice's rollouts ran her DSPy program (DSPy's chat format reached the model)...
        asked = double.last_messages["task-double"][-1]["content"]
        assert asked.startswith("[[ ## question ## ]]"), asked
        gepad.wait_delivered("bot", 1)
        loaded = dspy_programs.support()
        loaded.load(str(saved))
        assert loaded.respond.predict.signature.instructions == \
            gepad.prompt().components["system"]
        assert "UPPERCASE" in loaded.respond.predict.signature.instructions

        # ...while bob, whom no runner serves, is scored with the plain chat call.
        assert gepad.evolve("bob").promoted
        asked = double.last_messages["task-double"][-1]["content"]
        assert asked.startswith("question "), asked
