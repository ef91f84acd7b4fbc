"""Which instructions each predictor of a DSPy program gets from a prompt's components, and the
same applied to a program saved as JSON (``program.save("program.json")``). Pure: no DSPy import,
so delivering into a saved program does not need DSPy in the daemon.

A component named after a predictor (its name in ``program.named_predictors()``, e.g.
``"answer.predict"``) is that predictor's; the default component (``"system"``) goes to every
predictor without one of its own. A component that matches no predictor is refused: evolving
text the program never reads would look like progress and change nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DSPyProgramError", "instructions_for", "saved_predictors", "with_instructions"]


class DSPyProgramError(ValueError):
    """The prompt does not fit the program (or the saved file is no DSPy program)."""


def instructions_for(
    predictors: Sequence[str], components: Mapping[str, str], default: str
) -> dict[str, str]:
    """The new instructions by predictor name; a predictor missing here keeps its own."""
    unknown = sorted(set(components) - set(predictors) - {default})
    if unknown:
        raise DSPyProgramError(
            f"component(s) {', '.join(unknown)} match no predictor of the program (it has: "
            f"{', '.join(predictors) or 'none'}; the component {default!r} goes to all of them)")
    chosen: dict[str, str] = {}
    for name in predictors:
        text = components.get(name, components.get(default))
        if text is not None:
            chosen[name] = text
    return chosen


def saved_predictors(document: Any) -> list[str]:
    """The predictors of a saved program: top-level entries holding a signature."""
    if not isinstance(document, dict):
        raise DSPyProgramError("expected a JSON object (a program saved with program.save)")
    names = [name for name, state in document.items()
             if isinstance(state, dict) and isinstance(state.get("signature"), dict)]
    if not names:
        raise DSPyProgramError("holds no predictor (no entry with a signature): save the program "
                               "with program.save(path) first")
    return names


def with_instructions(text: str, components: Mapping[str, str], default: str) -> str:
    """A saved program's JSON text with its predictors' instructions replaced; everything else
    (demos, fields, metadata) is kept as it was."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DSPyProgramError(f"is not JSON: {exc}") from None
    for name, instructions in instructions_for(
            saved_predictors(document), components, default).items():
        document[name]["signature"]["instructions"] = instructions
    # DSPy writes its programs with an indent of 2; keeping that keeps a person's diff small.
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
