"""Asking a model for JSON under a contract, and the judge's answer contract, parsed strictly.

The judge's answer, accepted, and nothing else:
  {"score": <number 0..1>, "feedback": "<text>"}
  {"dimensions": {"<name>": {"score": <number 0..1>, "feedback": "<text>"}, ...}}
optionally wrapped in one ```json fence. Other keys are ignored. Booleans, strings that look like
numbers, out-of-range scores, prose around the JSON: contract errors. Scores are never guessed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from gepad.engine import ChatMessage, Usage
from gepad.llm import LLMClient, LLMError

T = TypeVar("T")

_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```$", re.DOTALL)


class ContractError(ValueError):
    """A model's answer broke its contract."""


@dataclass(frozen=True, slots=True)
class JudgeAnswer:
    # name -> (score, feedback); a single-score answer has one entry under the judge's name.
    dimensions: dict[str, tuple[float, str]]


def json_object(text: str) -> dict[str, Any]:
    """A model's answer as one JSON object, optionally in one ```json fence, and nothing else."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ContractError(f"not a JSON object: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ContractError("the answer must be a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class Asked(Generic[T]):
    """What asking a model under a contract gave: the parsed answer, or why there is none."""

    value: T | None
    usage: Usage
    problem: str = ""  # "model failed: ..." or "broke its answer contract N times: ..."


async def ask(client: LLMClient, messages: Sequence[ChatMessage], parse: Callable[[str], T],
              retries: int) -> Asked[T]:
    """Ask, and ask again (saying what was wrong) while the answer breaks the contract; a failed
    call ends it. Never guesses an answer."""
    usage = Usage()
    problem = ""
    for attempt in range(retries + 1):
        if attempt:
            messages = [*messages, ChatMessage(
                "user", f"Your previous answer broke the contract ({problem}). Answer again with "
                "the JSON object only.")]
        try:
            completion = await client.complete(messages)
        except LLMError as exc:
            return Asked(None, usage + exc.usage, f"model failed: {exc}")
        usage = usage + completion.usage
        if completion.finish_reason == "length":
            problem = "the answer was cut off at the length limit"
            continue
        try:
            return Asked(parse(completion.text), usage)
        except ContractError as exc:
            problem = str(exc)
    return Asked(None, usage, f"broke its answer contract {retries + 1} times: {problem}")


def parse_judge_answer(text: str, single_name: str = "judge") -> JudgeAnswer:
    data = json_object(text)
    if "dimensions" in data:
        dims = data["dimensions"]
        if not isinstance(dims, dict) or not dims:
            raise ContractError('"dimensions" must be a non-empty object')
        out: dict[str, tuple[float, str]] = {}
        for name, item in dims.items():
            if not isinstance(item, dict):
                raise ContractError(f"dimension {name!r} must be an object")
            out[str(name)] = (_score(item, f"dimension {name!r}"), _feedback(item, name))
        return JudgeAnswer(out)
    if "score" in data:
        return JudgeAnswer({single_name: (_score(data, "answer"), _feedback(data, "answer"))})
    raise ContractError('the answer has neither "score" nor "dimensions"')


def _score(item: dict[str, Any], where: str) -> float:
    value = item.get("score")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContractError(f"{where}: score must be a number")
    score = float(value)
    if math.isnan(score) or not 0.0 <= score <= 1.0:
        raise ContractError(f"{where}: score {value!r} is outside 0..1")
    return score


def _feedback(item: dict[str, Any], where: str) -> str:
    value = item.get("feedback")
    if not isinstance(value, str):
        raise ContractError(f"{where}: feedback must be a string")
    return value
