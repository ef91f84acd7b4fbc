"""``demo``: start a daemon in-process and walk through the loop gepad exists for: feedback in,
a round against a SIMULATED LLM (no API key), the improved prompt served and written into an
``AGENTS.md`` of a scratch repository, a person's edit of that file adopted, and a rollback.

Every write uses a fixed event id, so running the demo again against the same state stores
nothing twice; it says so where an event was already there.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

import anyio
from google.protobuf.message import Message

from gepad.cli.arguments import Subparsers
from gepad.cli.commands.lineage import lineage_lines
from gepad.cli.commands.serve import listening_on
from gepad.cli.exit_codes import ExitCode
from gepad.cli.invocation import Invocation
from gepad.cli.output import Output, to_json
from gepad.cli.progress import event_line, outcome
from gepad.cli.views import components_lines, prompt_header
from gepad.client import AsyncClient, GepadError, Unreachable
from gepad.demo import EDIT_SENTENCE, FEEDBACK, SEED, SimulatedLLM
from gepad.demo.simulated_llm import JUDGE, REFLECTION, TASK
from gepad.settings import Settings
from gepad.v1 import gepad_pb2 as pb

__all__ = ["DEMO_PROGRAM", "DEMO_REPO_TARGET", "DEMO_USER", "register"]

DEMO_USER = "demo-user"
DEMO_PROGRAM = "demo.assistant"
DEMO_REPO_TARGET = "demo-repo"
# How long the demo waits for the daemon to deliver into AGENTS.md or to adopt an edit there.
WAIT_SECONDS = 20.0
PROJECT_NOTES = "# Demo project\n\nRun `make test` before committing.\n"


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", parents=parents, help="start a daemon and walk through gepad",
        description="Start the daemon in-process with the default settings (or --config / "
        "--socket) and a scratch repository under the state directory; register a demo "
        "program, record feedback, run a round against a SIMULATED LLM (fixed rules on "
        "loopback; no API key, no network), watch AGENTS.md follow the served prompt, edit it "
        "by hand, roll back, then keep serving until Ctrl-C. Safe to repeat.",
    )
    p.add_argument("--once", action="store_true", help="stop the daemon after the walkthrough")
    p.set_defaults(handler=_demo)


class Narrator:
    """Numbered steps with indented details for people; one JSON line per answer for scripts."""

    def __init__(self, output: Output) -> None:
        self.output = output
        self.number = 0

    def step(self, title: str) -> None:
        self.number += 1
        self.output.line("")
        self.output.line(f"{self.number}. {title}")

    def say(self, *lines: str) -> None:
        for line in lines:
            self.output.line(f"   {line}" if line else "")

    def data(self, step: str, message: Message) -> None:
        if self.output.json_mode:
            self.output.json({"step": step, "data": to_json(message)}, stream=True)


def _demo(args: argparse.Namespace, inv: Invocation) -> int:
    settings = inv.settings()
    code: int = anyio.run(_run, inv, settings, bool(args.once))
    return code


async def _already_serving(settings: Settings, deadline: float | None) -> bool:
    if not settings.socket_path.exists():
        return False
    async with AsyncClient.from_settings(settings, timeout=deadline or 5.0) as client:
        try:
            await client.list_programs()
        except Unreachable:
            return False
        except GepadError:
            pass
    return True


def editor_target(repo: Path) -> dict[str, Any]:
    """The ``[[adapters]]`` table the demo's daemon gets: the demo user's prompt in the scratch
    repository's AGENTS.md, CLAUDE.md and Cursor rule, with a person's edits read back."""
    return {"plugin": "editor", "name": DEMO_REPO_TARGET, "user": DEMO_USER,
            "program": DEMO_PROGRAM, "root": str(repo), "files": ["agents", "claude", "cursor"],
            "settle_seconds": 0.2}


async def _run(inv: Invocation, settings: Settings, once: bool) -> int:
    out = inv.output
    narrator = Narrator(out)
    timeout = inv.args.timeout
    hint = (
        f"gepad is serving on {listening_on(settings)}; "
        f"try: gepad{inv.global_flags()} prompt {DEMO_USER} {DEMO_PROGRAM}"
    )
    with SimulatedLLM() as llm:
        if await _already_serving(settings, timeout):
            out.note(f"a gepad daemon already serves on unix://{settings.socket_path}; using it "
                     "(it has no demo repository: stop it to see AGENTS.md follow the prompt)")
            async with AsyncClient.from_settings(settings, timeout=timeout) as client:
                await walkthrough(client, narrator, settings, llm, repo=None)
            out.line("")
            out.line(hint)
            return ExitCode.OK

        from gepad.daemon import run_daemon

        repo = settings.state_dir / "demo-repo"
        repo.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not (repo / "AGENTS.md").exists():
            (repo / "AGENTS.md").write_text(PROJECT_NOTES)
        settings = dataclasses.replace(
            settings, adapters=(*settings.adapters, editor_target(repo)))
        stop, ready = anyio.Event(), anyio.Event()

        async def serve() -> None:
            try:
                await run_daemon(settings, ready=ready.set, stop=stop)
            finally:
                stop.set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(serve)
            await ready.wait()
            try:
                async with AsyncClient.from_settings(settings, timeout=timeout) as client:
                    await walkthrough(client, narrator, settings, llm, repo=repo)
            except BaseException:
                stop.set()
                raise
            out.line("")
            out.line(hint)
            if once:
                out.line("(--once: stopping it now)")
                stop.set()
            else:
                out.line("(Ctrl-C stops it and the simulated LLM)")
            # Leaving the task group waits for the daemon: at once with --once, else until a
            # signal; the simulated LLM serves rounds started meanwhile.
    return ExitCode.OK


async def _confirmed(client: AsyncClient, prompt: pb.Prompt) -> bool:
    """Whether the demo repository's target confirmed delivering this version of the prompt."""
    for t in (await client.list_adapters()).targets:
        if t.name == DEMO_REPO_TARGET:
            return any(d.user_id == prompt.user_id and d.program == prompt.program
                       and d.candidate_id == prompt.candidate_id and d.version >= prompt.version
                       for d in t.delivered)
    return False


async def _show_file(say: Narrator, client: AsyncClient, repo: Path | None,
                     prompt: pb.Prompt) -> None:
    if repo is None:
        return
    deadline = time.monotonic() + WAIT_SECONDS
    while not await _confirmed(client, prompt):
        if time.monotonic() > deadline:
            say.say("", f"AGENTS.md did not receive it within {WAIT_SECONDS:g} s:",
                    *await _target_report(client))
            return
        await anyio.sleep(0.05)
    say.say("", f"{repo / 'AGENTS.md'} (gepad's block; the lines around it are yours):")
    say.say(*[f"  | {line}" for line in (repo / "AGENTS.md").read_text().splitlines()])


async def _target_report(client: AsyncClient) -> list[str]:
    """What the demo repository's target says of its last edit and delivery."""
    for t in (await client.list_adapters()).targets:
        if t.name == DEMO_REPO_TARGET:
            return [f"last edit: {t.last_edit_note or '(none noticed)'}",
                    f"last delivery error: {t.last_error or '(none)'}; {t.pending} pending"]
    return ["(the daemon has no demo repository target)"]


async def walkthrough(client: AsyncClient, say: Narrator, settings: Settings, llm: SimulatedLLM,
                      *, repo: Path | None) -> None:
    user, name = DEMO_USER, DEMO_PROGRAM
    say.output.line(f"gepad demo: state in {settings.state_dir}, socket {client.target}")
    say.output.line(f"models: a SIMULATED LLM at {llm.api_base} (fixed rules in "
                    "gepad/demo/simulated_llm.py; no API key, no network)")

    say.step(f"Register the program {name}: a named prompt slot with a seed prompt")

    def model(role: str) -> pb.ModelSettings:
        return pb.ModelSettings(model=llm.model(role), api_base=llm.api_base)

    program = pb.Program(
        name=name, description="The assistant of gepad's demo",
        seed_components={"system": SEED}, task_model=model(TASK), judge_model=model(JUDGE),
        reflection_model=model(REFLECTION),
        evolution=pb.EvolutionSettings(max_iterations_per_round=4),
    )
    registered = await client.upsert_program(program)
    say.data("program", registered)
    verb = "created" if registered.created else "updated (it was there from an earlier run)"
    say.say(f"{verb}, revision {registered.program.revision}; its task, judge and reflection "
            "models are the simulated LLM's")
    served = await client.fetch_prompt(user, name)
    if served.pinned:
        served = await client.unpin(user, name)
        say.say("an earlier demo left the prompt pinned: unpinned, so a round may replace it")

    say.step(f"Record feedback from {user} on a chatty assistant's answers")
    for fields in FEEDBACK:
        response = await client.record_feedback(user_id=user, program=name, wait=True, **fields)
        say.data("feedback", response)
        what = fields["kind"] + (f" {fields['score']}" if "score" in fields else "")
        state = "already recorded" if response.duplicate else "stored"
        note = f"“{fields['comment']}”" if fields.get("comment") else ""
        say.say(f"{what:<14} {fields['event_id']:<20} {state:<17} {note}".rstrip())

    say.step("The prompt gepad serves this user now")
    prompt = await client.fetch_prompt(user, name)
    say.data("prompt", prompt)
    say.say(prompt_header(prompt), "", *components_lines(prompt.components))
    await _show_file(say, client, repo, prompt)

    say.step("A round: the simulated LLM answers, the judge grades, reflection proposes")
    started = await client.evolve(user, name)
    run = None
    async for progress in client.watch_run(started.run_id):
        say.data("progress", progress)
        run = progress.run
        if progress.event not in ("queued", "finished", "iteration"):
            say.say(event_line(progress, program.evolution.max_iterations_per_round))
    if run is None:
        run = await client.get_run(started.run_id)
    say.say("", outcome(run, run.promoted_candidate_id[:12]))
    prompt = await client.fetch_prompt(user, name)
    say.data("prompt", prompt)
    say.say("", prompt_header(prompt), "", *components_lines(prompt.components))
    await _show_file(say, client, repo, prompt)
    winner = prompt.candidate_id

    say.step(f"{user} edits the prompt by hand")
    edited = f"{prompt.components['system']} {EDIT_SENTENCE}"
    if repo is not None:
        agents = repo / "AGENTS.md"
        text = agents.read_text()
        agents.write_text(text.replace(prompt.components["system"], edited, 1))
        say.say(f"appended to the block in {agents}: “{EDIT_SENTENCE}”")

        found: pb.Prompt | None = None
        with anyio.move_on_after(WAIT_SECONDS):
            async for now in client.watch_prompt(user, name, reconnect=False):
                if now.components["system"] == edited:
                    found = now
                    break
        if found is None:
            say.say(f"the edit was not adopted within {WAIT_SECONDS:g} s:",
                    *await _target_report(client))
            return
        prompt = found
        say.say("gepad read the edit as PROMPT_EDIT feedback, made it a human_edit node and "
                "serves it pinned:")
    else:
        response = await client.record_feedback(
            user_id=user, program=name, event_id="demo-prompt-edit-1", kind="prompt_edit",
            edited_components={"system": edited}, comment="Commands in backticks.", wait=True)
        say.data("feedback", response)
        prompt = await client.fetch_prompt(user, name)
        say.say("recorded as PROMPT_EDIT feedback; gepad serves it as a human_edit node:")
    say.data("prompt", prompt)
    say.say(prompt_header(prompt), "", *components_lines(prompt.components))

    say.step("The lineage: every candidate this user was served or could be")
    lineage = await client.list_lineage(user, name)
    say.data("lineage", lineage)
    width = shutil.get_terminal_size((100, 24)).columns - 3
    say.say(*lineage_lines(lineage, width))

    say.step("Roll back to the round's winner, pinned so evolution will not replace it")
    prompt = await client.rollback(user, name, winner, note="demo: back to the round's winner")
    say.data("prompt", prompt)
    say.say(prompt_header(prompt), "", *components_lines(prompt.components))
    await _show_file(say, client, repo, prompt)
    say.say("", f"`gepad unpin {user} {name}` lets evolution take over again")
