"""``demo``: start a daemon in-process and walk through what gepad does, step by step.

Every write uses a fixed event id, so running the demo again against the same state stores
nothing twice; it says so where an event was already there.
"""

from __future__ import annotations

import argparse
import shutil
from typing import Any

import anyio
from google.protobuf.message import Message

from gepad.cli.arguments import Subparsers
from gepad.cli.commands.lineage import lineage_lines
from gepad.cli.commands.serve import listening_on
from gepad.cli.exit_codes import ExitCode
from gepad.cli.invocation import Invocation
from gepad.cli.output import Output, to_json
from gepad.cli.views import components_lines, prompt_header
from gepad.client import AsyncClient, GepadError, Unreachable
from gepad.settings import Settings
from gepad.v1 import gepad_pb2 as pb

__all__ = ["DEMO_PROGRAM", "DEMO_USER", "register"]

DEMO_USER = "demo-user"
DEMO_PROGRAM = "demo.assistant"
SEED = "You are a helpful assistant. Answer the user's question."
EDITED = (
    "You are a helpful assistant. Answer in at most three sentences, in a friendly tone, "
    "and say so when you are not sure."
)
FEEDBACK: list[dict[str, Any]] = [
    {
        "event_id": "demo-correction-1", "kind": "correction",
        "input": "What is the capital of Australia?",
        "output": "Sydney is the capital of Australia.",
        "correction": "Canberra is the capital of Australia.",
        "comment": "Sydney is the largest city, not the capital.", "dimension": "faithfulness",
    },
    {
        "event_id": "demo-rejection-1", "kind": "rejection",
        "input": "Summarise the meeting notes in one line.",
        "output": "The meeting covered many topics. First, the team discussed the roadmap...",
        "comment": "Far too long: I asked for one line.", "dimension": "format",
    },
    {
        "event_id": "demo-acceptance-1", "kind": "acceptance",
        "input": "Translate 'good morning' into French.", "output": "Bonjour !",
    },
    {
        "event_id": "demo-rating-1", "kind": "rating", "input": "Suggest a name for a cat.",
        "output": "How about Miso?", "score": 0.8, "dimension": "tone",
    },
]
PROMPT_EDIT: dict[str, Any] = {
    "event_id": "demo-prompt-edit-1", "kind": "prompt_edit",
    "edited_components": {"system": EDITED},
    "comment": "Keep answers short and friendly.",
}


def register(sub: Subparsers, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo", parents=parents, help="start a daemon and walk through gepad",
        description="Start the daemon in-process with the default settings (or --config / "
        "--socket), register a demo program, record feedback, hand-edit the prompt, show the "
        "lineage, roll back, then keep serving until Ctrl-C. Calls no LLM. Safe to repeat.",
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


async def _run(inv: Invocation, settings: Settings, once: bool) -> int:
    out = inv.output
    narrator = Narrator(out)
    timeout = inv.args.timeout
    hint = (
        f"gepad is serving on {listening_on(settings)}; "
        f"try: gepad{inv.global_flags()} prompt {DEMO_USER} {DEMO_PROGRAM}"
    )
    if await _already_serving(settings, timeout):
        out.note(f"a gepad daemon already serves on unix://{settings.socket_path}; using it")
        async with AsyncClient.from_settings(settings, timeout=timeout) as client:
            await walkthrough(client, narrator, settings)
        out.line("")
        out.line(hint)
        return ExitCode.OK

    from gepad.daemon import run_daemon

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
                await walkthrough(client, narrator, settings)
        except BaseException:
            stop.set()
            raise
        out.line("")
        out.line(hint)
        if once:
            out.line("(--once: stopping it now)")
            stop.set()
        else:
            out.line("(Ctrl-C stops it)")
        # Leaving the task group waits for the daemon: at once with --once, else until a signal.
    return ExitCode.OK


async def walkthrough(client: AsyncClient, say: Narrator, settings: Settings) -> None:
    user, name = DEMO_USER, DEMO_PROGRAM
    say.output.line(f"gepad demo: state in {settings.state_dir}, socket {client.target}")

    say.step(f"Register the program {name}: a named prompt slot with a seed prompt")
    program = pb.Program(
        name=name,
        description="The assistant of gepad's demo",
        seed_components={"system": SEED},
        task_model=pb.ModelSettings(model="openai/gpt-4o-mini", api_key_env="OPENAI_API_KEY"),
    )
    registered = await client.upsert_program(program)
    say.data("program", registered)
    verb = "created" if registered.created else "updated (it was there from an earlier run)"
    say.say(
        f"{verb}, revision {registered.program.revision}; task model "
        f"{program.task_model.model} with its key from $OPENAI_API_KEY (nothing calls it here)"
    )

    say.step(f"Record feedback from {user} on answers the assistant gave")
    for fields in FEEDBACK:
        response = await client.record_feedback(user_id=user, program=name, wait=True, **fields)
        say.data("feedback", response)
        what = fields["kind"] + (f" {fields['score']}" if "score" in fields else "")
        state = "already recorded (event ids are fixed)" if response.duplicate else "stored"
        say.say(f"{what:<11} {fields['event_id']:<20} {state}")
        if fields.get("comment"):
            say.say(f"{'':<11} “{fields['comment']}”")

    say.step("The prompt gepad serves this user")
    prompt = await client.fetch_prompt(user, name)
    say.data("prompt", prompt)
    say.say(prompt_header(prompt), "", *components_lines(prompt.components))

    say.step(f"{user} rewrites the prompt by hand (a PROMPT_EDIT event)")
    edit = await client.record_feedback(user_id=user, program=name, wait=True, **PROMPT_EDIT)
    say.data("feedback", edit)
    prompt = await client.fetch_prompt(user, name)
    say.data("prompt", prompt)
    if edit.duplicate:
        say.say("already recorded by an earlier run: its human_edit node is in the lineage")
    else:
        say.say("gepad made it a human_edit node of the lineage and serves it now:")
    say.say(prompt_header(prompt), "", *components_lines(prompt.components))

    say.step("The lineage: every candidate this user was served or could be")
    lineage = await client.list_lineage(user, name)
    say.data("lineage", lineage)
    width = shutil.get_terminal_size((100, 24)).columns - 3
    say.say(*lineage_lines(lineage, width))

    say.step("Roll back to the seed, pinned so evolution will not replace it")
    seeds = [c for c in lineage.candidates if c.origin == pb.CANDIDATE_ORIGIN_SEED]
    seed = next((c for c in seeds if dict(c.components) == {"system": SEED}), None)
    seed = seed or (seeds[-1] if seeds else None)
    if seed is None:
        say.say("the lineage has no seed node; nothing to roll back to")
        return
    prompt = await client.rollback(user, name, seed.id, note="demo: back to the seed")
    say.data("prompt", prompt)
    say.say(prompt_header(prompt), "", *components_lines(prompt.components))
    say.say("", f"`gepad unpin {user} {name}` lets evolution take over again")
