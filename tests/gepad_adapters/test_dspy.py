"""The dspy adapter against real DSPy: the runner runs the user's own program, with the
candidate's instructions, on the loopback test LLM; delivery writes a saved program that
``program.load`` reads back with the served instructions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dspy
import pytest

from gepad.adapters import AdapterSetup, Delivery, EditWatch, RolloutRunner, load_targets
from gepad.adapters.config import parse_targets
from gepad.engine import Candidate, ChatMessage, Example
from gepad.settings import ConfigError
from gepad_adapters.dspy import DSPyProgramFile, DSPyRunner, load_factory
from gepad_adapters.dspy_instructions import DSPyProgramError
from gepad_adapters.files import MemoryFiles
from tests.doubles.openai_server import OpenAIDouble
from tests.gepad_adapters import dspy_programs

pytestmark = pytest.mark.anyio

PROGRAMS = "tests.gepad_adapters.dspy_programs"
UPPER = "Always answer in UPPERCASE."


@pytest.fixture
def double() -> Iterator[OpenAIDouble]:
    with OpenAIDouble() as running:
        yield running


def task_lm(double: OpenAIDouble) -> Any:
    return dspy.LM("openai/task-double", api_base=double.api_base, api_key="test-key",
                   cache=False)


def example(question: str) -> Example:
    return Example("e1", "train", (ChatMessage("system", "an old prompt"),
                                   ChatMessage("user", question)))


async def test_the_runner_runs_the_program_with_the_candidates_instructions(
        double: OpenAIDouble) -> None:
    runner = DSPyRunner(dspy_programs.support, name="support", lm=task_lm(double))
    upper = await runner.run(Candidate.create({"system": UPPER}), example("what is gepa?"))
    system = double.last_messages["task-double"][0]["content"]
    assert UPPER in system and "Answer the question." not in system
    # ChainOfThought's answer, not its reasoning; the test LLM obeyed the instructions.
    assert upper.output == "OK: WHAT IS GEPA?"
    assert upper.trace["prediction"] == {"reasoning": "OK: WHAT IS GEPA?",
                                         "answer": "OK: WHAT IS GEPA?"}
    assert (upper.usage.calls, upper.usage.tokens) == (1, 15)
    plain = await runner.run(Candidate.create({"system": "Answer briefly."}),
                             example("what is gepa?"))
    assert plain.output == "ok: what is gepa?"


async def test_each_predictor_takes_its_own_component_and_the_rest_take_system(
        double: OpenAIDouble) -> None:
    runner = DSPyRunner(dspy_programs.pipeline, name="pipeline", lm=task_lm(double))
    assert runner.version.startswith("dspy:pipeline:")
    polished = await runner.run(Candidate.create({"system": "Be plain.", "polish": UPPER}),
                                example("why?"))
    assert polished.output == "OK: OK: WHY?"
    drafted = await runner.run(Candidate.create({"system": "Be plain.", "draft": UPPER}),
                               example("why?"))
    assert drafted.output == "ok: OK: WHY?"
    assert drafted.usage.calls == 2


async def test_a_component_no_predictor_reads_is_refused(double: OpenAIDouble) -> None:
    runner = DSPyRunner(dspy_programs.pipeline, name="pipeline", lm=task_lm(double))
    with pytest.raises(DSPyProgramError, match=r"component\(s\) polsh match no predictor "
                                               r"of the program \(it has: draft, polish;"):
        await runner.run(Candidate.create({"polsh": UPPER}), example("why?"))
    assert double.calls["task-double"] == 0


def test_the_version_names_the_factory_and_changes_with_the_program_and_the_lm(
        double: OpenAIDouble) -> None:
    lm = task_lm(double)
    plain = DSPyRunner(dspy_programs.predict, name="qa", lm=lm)
    assert plain.version == DSPyRunner(dspy_programs.predict, name="qa", lm=lm).version
    assert plain.version.startswith("dspy:qa:")
    versions = {
        plain.version,
        DSPyRunner(dspy_programs.predict_with_demo, name="qa", lm=lm).version,
        DSPyRunner(dspy_programs.predict, name="qa", lm=dspy.LM("openai/other")).version,
        DSPyRunner(dspy_programs.predict, name="qa", lm=lm, output_field="question").version,
    }
    assert len(versions) == 4


def test_a_program_with_several_inputs_needs_input_field() -> None:
    def two_inputs() -> Any:
        return dspy.Predict("context, question -> answer")

    with pytest.raises(DSPyProgramError, match="takes context, question: set input_field"):
        DSPyRunner(two_inputs, name="two")
    assert DSPyRunner(two_inputs, name="two", input_field="question").version


def test_a_factory_is_loaded_from_module_and_name() -> None:
    assert load_factory(f"{PROGRAMS}:support") is dspy_programs.support
    with pytest.raises(ValueError, match="expected \"module:callable\""):
        load_factory(PROGRAMS)
    with pytest.raises(ValueError, match="is not callable"):
        load_factory(f"{PROGRAMS}:Answer.__doc__")


# ---------------------------------------------------------------------------------- delivery

def delivery(components: dict[str, str], version: int = 3) -> Delivery:
    return Delivery("bot", "alice", "support", "c3", version, components, False, 1.0)


def setup(**options: Any) -> AdapterSetup:
    return AdapterSetup(index=0, name="bot", plugin="dspy", user_id="alice", program="support",
                        options=options, env={})


async def test_delivery_writes_a_program_that_dspy_loads_with_the_served_instructions(
        tmp_path: Path) -> None:
    path = tmp_path / "program.json"
    saved = dspy_programs.pipeline()
    saved.draft.demos = [dspy.Example(question="q", draft="d").with_inputs("question")]
    saved.save(str(path))
    await DSPyProgramFile(setup(path=str(path))).deliver(
        delivery({"system": "Be plain.", "polish": UPPER}))
    loaded = dspy_programs.pipeline()
    loaded.load(str(path))
    assert loaded.draft.signature.instructions == "Be plain."
    assert loaded.polish.signature.instructions == UPPER
    # What the person saved besides the instructions is kept.
    assert [dict(demo) for demo in loaded.draft.demos] == [{"question": "q", "draft": "d"}]


async def test_a_predictor_without_a_component_of_its_own_or_a_default_keeps_its_own(
        tmp_path: Path) -> None:
    path = tmp_path / "program.json"
    dspy_programs.pipeline().save(str(path))
    await DSPyProgramFile(setup(path=str(path))).deliver(delivery({"polish": UPPER}))
    loaded = dspy_programs.pipeline()
    loaded.load(str(path))
    assert loaded.polish.signature.instructions == UPPER
    assert loaded.draft.signature.instructions == \
        dspy_programs.pipeline().draft.signature.instructions


async def test_delivering_the_same_prompt_again_writes_nothing() -> None:
    path = Path("/srv/program.json")
    files = MemoryFiles({path: json.dumps({"respond.predict": {
        "demos": [], "signature": {"instructions": "old", "fields": []}}})})
    target = DSPyProgramFile(setup(path=str(path)), files=files)
    await target.deliver(delivery({"system": UPPER}))
    await target.deliver(delivery({"system": UPPER}, version=4))
    assert files.writes == [path]
    assert json.loads(files.files[path])["respond.predict"]["signature"]["instructions"] == UPPER


async def test_delivery_refuses_a_missing_file_and_one_that_is_no_program() -> None:
    path = Path("/srv/program.json")
    files = MemoryFiles()
    target = DSPyProgramFile(setup(path=str(path)), files=files)
    with pytest.raises(DSPyProgramError, match=r"does not exist: save the program there first"):
        await target.deliver(delivery({"system": UPPER}))
    files.files[path] = json.dumps({"metadata": {}})
    with pytest.raises(DSPyProgramError, match=r"/srv/program.json: holds no predictor"):
        await target.deliver(delivery({"system": UPPER}))
    assert files.writes == []


# ---------------------------------------------------------------------------------- the plugin

def test_the_plugin_with_a_factory_is_also_a_rollout_runner(double: OpenAIDouble) -> None:
    table = {"plugin": "dspy", "name": "bot", "user": "alice", "program": "support",
             "path": "/srv/program.json", "factory": f"{PROGRAMS}:support",
             "model": "openai/task-double", "api_base": double.api_base,
             "api_key_env": "TASK_KEY"}
    (loaded,) = load_targets(parse_targets([table], {"TASK_KEY": "k"}))
    assert isinstance(loaded.adapter, RolloutRunner)
    assert not isinstance(loaded.adapter, EditWatch)
    assert loaded.adapter.version.startswith(f"dspy:{PROGRAMS}:support:")
    del table["factory"], table["model"], table["api_base"], table["api_key_env"]
    (delivery_only,) = load_targets(parse_targets([table], {}))
    assert not isinstance(delivery_only.adapter, RolloutRunner)


async def test_the_configured_runner_reaches_the_configured_model(double: OpenAIDouble) -> None:
    table = {"plugin": "dspy", "name": "bot", "program": "support", "path": "/srv/p.json",
             "factory": f"{PROGRAMS}:support", "model": "openai/task-double",
             "api_base": double.api_base, "api_key_env": "TASK_KEY"}
    (loaded,) = load_targets(parse_targets([table], {"TASK_KEY": "k"}))
    assert isinstance(loaded.adapter, RolloutRunner)
    out = await loaded.adapter.run(Candidate.create({"system": UPPER}), example("hi"))
    assert out.output == "OK: HI"


def test_a_factory_that_cannot_be_loaded_is_a_config_error_naming_the_key() -> None:
    table = {"plugin": "dspy", "name": "bot", "program": "support", "path": "/srv/p.json",
             "factory": f"{PROGRAMS}:nothing_here"}
    with pytest.raises(ConfigError, match=r"adapters\[0\]\.factory: cannot load "):
        load_targets(parse_targets([table], {}))
