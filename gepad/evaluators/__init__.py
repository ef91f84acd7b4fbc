"""Production-driven evaluators: rules, reference (user corrections), LLM judge, and the panel."""

from .contract import ContractError, JudgeAnswer, parse_judge_answer
from .judge import JudgeError, JudgeEvaluator
from .panel import EvaluatorPanel, Member
from .reference import ReferenceEvaluator, token_f1, tokens
from .rules import RuleEvaluator
from .verdicts import NOT_APPLICABLE, is_applicable

__all__ = [
    "NOT_APPLICABLE",
    "ContractError",
    "EvaluatorPanel",
    "JudgeAnswer",
    "JudgeError",
    "JudgeEvaluator",
    "Member",
    "ReferenceEvaluator",
    "RuleEvaluator",
    "is_applicable",
    "parse_judge_answer",
    "token_f1",
    "tokens",
]
