"""DSPy programs as a user would write them, for the dspy adapter's tests (its ``factory``
option names them as ``tests.gepad_adapters.dspy_programs:NAME``)."""

from __future__ import annotations

from typing import Any

import dspy


class Answer(dspy.Signature):
    """Answer the question."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


class Support(dspy.Module):
    """A user's own module: reasons, then answers."""

    def __init__(self) -> None:
        super().__init__()
        self.respond = dspy.ChainOfThought(Answer)

    def forward(self, question: str) -> Any:
        return self.respond(question=question)


class Pipeline(dspy.Module):
    """Two predictors: a draft, then a polish of the draft."""

    def __init__(self) -> None:
        super().__init__()
        self.draft = dspy.Predict("question -> draft")
        self.polish = dspy.Predict("draft -> answer")

    def forward(self, question: str) -> Any:
        return self.polish(draft=self.draft(question=question).draft)


def support() -> Support:
    return Support()


def predict() -> dspy.Predict:
    return dspy.Predict(Answer)


def predict_with_demo() -> dspy.Predict:
    program = dspy.Predict(Answer)
    program.demos = [dspy.Example(question="2+2?", answer="4").with_inputs("question")]
    return program


def pipeline() -> Pipeline:
    return Pipeline()
