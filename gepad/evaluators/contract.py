"""The judge's answer contract, parsed strictly.

Accepted, and nothing else:
  {"score": <number 0..1>, "feedback": "<text>"}
  {"dimensions": {"<name>": {"score": <number 0..1>, "feedback": "<text>"}, ...}}
optionally wrapped in one ```json fence. Other keys are ignored. Booleans, strings that look like
numbers, out-of-range scores, prose around the JSON: contract errors. Scores are never guessed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```$", re.DOTALL)


class ContractError(ValueError):
    """The judge's answer broke the contract."""


@dataclass(frozen=True, slots=True)
class JudgeAnswer:
    # name -> (score, feedback); a single-score answer has one entry under the judge's name.
    dimensions: dict[str, tuple[float, str]]


def parse_judge_answer(text: str, single_name: str = "judge") -> JudgeAnswer:
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
