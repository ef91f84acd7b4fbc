"""The DSPy adapter: delivers the served prompt into a saved DSPy program (the JSON that
``program.save(path)`` writes and ``program.load(path)`` reads), and with ``factory`` set also
runs rollouts the way the program would: the user's own program, built fresh for each rollout
with its predictors' instructions taken from the candidate (see `dspy_instructions`).

    [[adapters]]
    plugin = "dspy"
    user = "alice"
    program = "support-bot"
    path = "/srv/bot/program.json"
    # optional: run rollouts through the program itself
    factory = "bot.programs:make_program"   # module:callable returning a fresh dspy.Module
    model = "openai/gpt-4o-mini"            # else the LM the program configures itself
    api_key_env = "OPENAI_API_KEY"         # or api_key_credential; api_base too

Delivery needs no DSPy (the file is JSON); the runner imports DSPy and the factory when the
table names one, so a typo there stops the daemon at start-up rather than at the first round.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from typing import Any

import anyio

from gepad.adapters.protocols import API_VERSION, AdapterSetup, Delivery, DeliveryTarget
from gepad.engine import Candidate, Example, RunnerOutput, Usage

from .dspy_instructions import DSPyProgramError, instructions_for, with_instructions
from .files import DiskFiles, Files

__all__ = ["DSPyProgramFile", "DSPyRunner", "DSPyRunnerTarget", "load_factory", "plugin"]

# DSPy's objects are untyped at this boundary: a program is whatever the user's factory builds.
Program = Any


def load_factory(reference: str) -> Callable[[], Program]:
    """``"package.module:callable"`` -> the callable."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected \"module:callable\", got {reference!r}")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"{reference} is not callable")
    return target  # type: ignore[no-any-return]


class DSPyProgramFile:
    """Delivery: the saved program's predictors get the served instructions, written atomically;
    a file that already holds them is left alone, so a repeated delivery is a no-op."""

    def __init__(self, setup: AdapterSetup, *, files: Files | None = None) -> None:
        self._path = setup.path("path")
        self._component = setup.text("component", "system")
        self._io = files or DiskFiles()

    async def deliver(self, delivery: Delivery) -> None:
        current = await self._io.read(self._path)
        if current is None:
            raise DSPyProgramError(f"{self._path} does not exist: save the program there first "
                                   "(program.save(path))")
        try:
            new = with_instructions(current, delivery.components, self._component)
        except DSPyProgramError as exc:
            raise DSPyProgramError(f"{self._path}: {exc}") from None
        if json.loads(new) != json.loads(current):
            await self._io.write(self._path, new, expect=current)


class _CountCalls:
    """A DSPy callback counting the LM calls of one rollout (its usage tracker counts tokens,
    not calls)."""

    def __init__(self) -> None:
        self.calls = 0

    def __getattr__(self, name: str) -> Callable[..., None]:
        # DSPy calls on_<kind>_start/_end for modules, adapters, tools and LMs alike.
        if not name.startswith("on_"):
            raise AttributeError(name)
        return self._ignore

    def _ignore(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_lm_end(self, call_id: str, outputs: Any, exception: Exception | None = None) -> None:
        self.calls += 1


class DSPyRunner:
    """The engine's `TaskRunner` for a DSPy program: build it with ``factory``, set each
    predictor's instructions from the candidate, run it on the example's last user message (as
    ``input_field``) and answer its ``output_field``.

    ``version`` names the factory and digests the program it builds (its predictors, fields and
    demos) and the LM, so changing any of them makes the engine score candidates anew."""

    def __init__(self, factory: Callable[[], Program], *, name: str, lm: Any = None,
                 component: str = "system", input_field: str | None = None,
                 output_field: str | None = None) -> None:
        import dspy  # noqa: F401  (fail here, at configuration, when DSPy is not installed)

        self._factory = factory
        self._lm = lm
        self._component = component
        program = factory()
        predictors = list(program.named_predictors())
        if not predictors:
            raise DSPyProgramError(f"{name} built a program without predictors")
        first, last = predictors[0][1].signature, predictors[-1][1].signature
        self._input = input_field or _only(list(first.input_fields), "input_field", name)
        self._output = output_field or list(last.output_fields)[-1]
        state = json.dumps(program.dump_state(), sort_keys=True, default=str)
        model = getattr(lm, "model", None) or "program's own LM"
        digest = hashlib.sha256(f"{state}\0{model}\0{self._input}\0{self._output}".encode())
        self._version = f"dspy:{name}:{digest.hexdigest()[:16]}"

    @property
    def version(self) -> str:
        return self._version

    async def run(self, candidate: Candidate, example: Example) -> RunnerOutput:
        # DSPy's modules are synchronous; a worker thread keeps the event loop free.
        return await anyio.to_thread.run_sync(self._run, candidate, example)

    def _run(self, candidate: Candidate, example: Example) -> RunnerOutput:
        import dspy

        # A fresh program per rollout: concurrent rollouts of different candidates must not
        # share predictors whose instructions they set.
        program = self._factory()
        predictors = dict(program.named_predictors())
        for name, text in instructions_for(
                list(predictors), candidate.components, self._component).items():
            predictor = predictors[name]
            predictor.signature = predictor.signature.with_instructions(text)
        question = next((m.content for m in reversed(example.input) if m.role == "user"), "")
        counter = _CountCalls()
        overrides: dict[str, Any] = {"track_usage": True, "callbacks": [counter]}
        if self._lm is not None:
            overrides["lm"] = self._lm
        with dspy.context(**overrides):
            prediction = program(**{self._input: question})
        tokens = sum(int(u.get("total_tokens") or 0)
                     for u in (prediction.get_lm_usage() or {}).values())
        return RunnerOutput(
            output=str(getattr(prediction, self._output)),
            trace={"prediction": {k: str(v) for k, v in prediction.items()}},
            usage=Usage(tokens=tokens, calls=counter.calls),
        )


def _only(fields: list[str], option: str, name: str) -> str:
    if len(fields) != 1:
        raise DSPyProgramError(f"{name}'s first predictor takes {', '.join(fields) or 'nothing'}: "
                               f"set {option} to the one that gets the user's message")
    return fields[0]


class DSPyRunnerTarget(DSPyProgramFile):
    """Delivery and a rollout runner in one target (the host finds the runner by isinstance)."""

    def __init__(self, setup: AdapterSetup, runner: DSPyRunner, *,
                 files: Files | None = None) -> None:
        super().__init__(setup, files=files)
        self._runner = runner

    @property
    def version(self) -> str:
        return self._runner.version

    async def run(self, candidate: Candidate, example: Example) -> RunnerOutput:
        return await self._runner.run(candidate, example)


def _runner(setup: AdapterSetup) -> DSPyRunner:
    reference = setup.text("factory")
    try:
        factory = load_factory(reference)
    except (ImportError, AttributeError, ValueError) as exc:
        raise setup.error("factory", f"cannot load {reference!r}: {exc}") from None
    lm = None
    if setup.has("model"):
        import dspy

        keyed = setup.has("api_key_env") or setup.has("api_key_credential")
        # DSPy's own response cache would hand several rollouts of one example the same answer.
        lm = dspy.LM(setup.text("model"), cache=False,
                     api_base=setup.text("api_base") if setup.has("api_base") else None,
                     api_key=setup.secret("api_key").decode() if keyed else None)
    return DSPyRunner(
        factory, name=reference, lm=lm, component=setup.text("component", "system"),
        input_field=setup.text("input_field") if setup.has("input_field") else None,
        output_field=setup.text("output_field") if setup.has("output_field") else None)


class _Plugin:
    """The ``dspy`` plugin's factory: a delivery target, and a rollout runner too when
    ``factory`` is set."""

    api_version = API_VERSION

    def __call__(self, setup: AdapterSetup) -> DeliveryTarget:
        if setup.has("factory"):
            return DSPyRunnerTarget(setup, _runner(setup))
        return DSPyProgramFile(setup)


plugin = _Plugin()
