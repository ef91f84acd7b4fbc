"""Compares an output with the user's corrected output (the example's reference).

Score: token F1 between the normalised output and correction (case-folded NFKC word tokens), so
wording that matches counts whatever its order; the feedback names the concrete differences in
order (from a token diff), which is what reflection needs. An output identical to one the user
rejected scores 0. Examples without a correction are not applicable.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter

from gepad.engine import Example, Verdict

from .verdicts import NOT_APPLICABLE

_WORD = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def token_f1(output: str, reference: str) -> float:
    out, ref = tokens(output), tokens(reference)
    if not out and not ref:
        return 1.0
    if not out or not ref:
        return 0.0
    overlap = sum((Counter(out) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(out), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


class ReferenceEvaluator:
    def __init__(self, *, name: str = "reference", max_differences: int = 6) -> None:
        self.name = name
        self._max_differences = max_differences

    @property
    def version(self) -> str:
        return f"reference:{self.name}:token-f1-v1"

    async def evaluate(self, example: Example, output: str) -> Verdict:
        if example.reference is None:
            return NOT_APPLICABLE
        normalised = tokens(output)
        for rejected in example.rejected_outputs:
            if normalised == tokens(rejected):
                return Verdict(
                    scores={self.name: 0.0},
                    aggregate=0.0,
                    feedback="The output is the same as an output the user rejected.",
                )
        score = token_f1(output, example.reference)
        return Verdict(
            scores={self.name: score},
            aggregate=score,
            feedback=self._explain(normalised, tokens(example.reference), score),
        )

    def _explain(self, out: list[str], ref: list[str], score: float) -> str:
        if out == ref:
            return "The output matches the user's corrected output."
        lines = [f"Token F1 against the user's corrected output: {score:.2f}."]
        ops = difflib.SequenceMatcher(a=out, b=ref, autojunk=False).get_opcodes()
        shown = 0
        for tag, i1, i2, j1, j2 in ops:
            if tag == "equal":
                continue
            if shown == self._max_differences:
                lines.append("(more differences omitted)")
                break
            got, want = " ".join(out[i1:i2][:20]), " ".join(ref[j1:j2][:20])
            if tag == "replace":
                lines.append(f"- the correction says '{want}' where the output says '{got}'")
            elif tag == "delete":
                lines.append(f"- the output adds '{got}', which the correction does not have")
            else:
                lines.append(f"- the output lacks '{want}' from the correction")
            shown += 1
        len_out, len_ref = len(out), len(ref)
        if len_ref and abs(len_out - len_ref) > 0.3 * len_ref:
            lines.append(f"- length: {len_out} words vs {len_ref} in the correction")
        return "\n".join(lines)
