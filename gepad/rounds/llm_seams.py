"""Turning a program's settings into the engine's seams: the task runner, the evaluator panel
(rules, the user's corrections, the judge LM) and the reflection LM, all over litellm, unless an
adapter runs the user's rollouts the way its host does."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gepad.engine import Evaluator, MemoryEvaluationStore, Seams, TaskRunner
from gepad.evaluators import EvaluatorPanel, JudgeEvaluator, ReferenceEvaluator, RuleEvaluator
from gepad.llm import ChatTaskRunner, LLMClient, LLMReflection, ModelSettings
from gepad.programs import Program
from gepad.rubric import Rubric

__all__ = ["LiteLLMSeams", "model_settings", "program_rules"]


def model_settings(settings: ModelSettings, fallback: ModelSettings) -> ModelSettings:
    """A role without its own model (reflection, judge) uses the task model's settings."""
    return settings if settings.model else fallback


def program_rules(program: Program) -> RuleEvaluator | None:
    """The checks the program's operator configured (must match, must not match, length), as one
    evaluator; None when it sets none."""
    ev = program.evolution
    if not (ev.must_match or ev.must_not_match or ev.max_output_chars):
        return None
    return RuleEvaluator(list(ev.must_match), list(ev.must_not_match),
                         ev.max_output_chars or None)


def _default_client(settings: ModelSettings) -> LLMClient:
    from gepad.llm import LiteLLMClient

    return LiteLLMClient(settings)


def _no_runners(user_id: str, program: str) -> TaskRunner | None:
    return None


class LiteLLMSeams:
    """The production SeamsFactory. ``client`` is the one place a different LLM transport can be
    plugged in; by default every role goes through litellm. ``runners(user, program)`` is an
    adapter's rollout runner for that prompt, when one is configured (the composition root asks
    the delivery host); it replaces the chat call with the task model, and its version is part
    of every evaluation's cache key, so no output of one runner is reused for another."""

    def __init__(self, client: Callable[[ModelSettings], LLMClient] = _default_client,
                 runners: Callable[[str, str], TaskRunner | None] = _no_runners) -> None:
        self._client = client
        self._runners = runners

    def problems(self, program: Program) -> list[str]:
        """Why this program's models cannot be called at all (a missing API key), before a round
        spends anything."""
        from gepad.llm.litellm_client import missing_credentials

        roles = (program.task_model, program.judge_model, program.reflection_model)
        found = (missing_credentials(model_settings(r, program.task_model)) for r in roles)
        return list(dict.fromkeys(p for p in found if p))

    def judge_client(self, program: Program) -> LLMClient:
        """The judge's model: it also keeps the user's rubric."""
        return self._client(model_settings(program.judge_model, program.task_model))

    def __call__(self, program: Program, store: MemoryEvaluationStore,
                 rubric: Rubric | None = None, extra: Sequence[Evaluator] = (),
                 user_id: str = "") -> Seams:
        if not program.task_model.model:
            raise ValueError(
                f"program {program.name!r} has no task_model.model; set one to evolve it"
            )
        task = model_settings(program.task_model, program.task_model)
        members: list[Evaluator] = [ReferenceEvaluator()]
        rules = program_rules(program)
        if rules is not None:
            members.append(rules)
        members.append(JudgeEvaluator(self.judge_client(program), rubric=rubric))
        members += extra  # the evaluators generated for the user's failure modes
        return Seams(
            runner=(self._runners(user_id, program.name)
                    or ChatTaskRunner(self._client(task))),
            evaluator=EvaluatorPanel(members),
            reflection=LLMReflection(self._client(
                model_settings(program.reflection_model, program.task_model)
            )),
            store=store,
        )
