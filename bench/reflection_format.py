"""How many reflection proposals are lost to the answer's format, before and after the parser
accepted more than the exact markers.

Each shape below is one way a model answers the meta-prompt with a usable new text (or, for the
last shapes, without one). "strict" is the rule gepad used until it accepted other shapes: the
exact BEGIN marker, then the exact END marker. "gepad" is ``parse_proposal`` now. The mix row
weighs the shapes by how often a reply takes that shape under the stated assumption (most replies
follow the requested format; the rest spread over the others).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from gepad.engine import Reply, parse_proposal
from gepad.engine.reflection import BEGIN, END

CURRENT = "You are a helpful assistant."
NEW = "You are a helpful assistant.\n- Answer in at most three sentences.\n- Never use emojis."

# (shape, reply text, share of replies in the mix, does it hold a usable answer?)
SHAPES: list[tuple[str, str, float, bool]] = [
    ("markers as asked", f"The user wants brevity.\n{BEGIN}\n{NEW}\n{END}", 0.90, True),
    ("fenced block", f"The user wants brevity.\n```\n{NEW}\n```", 0.03, True),
    ("fenced block with a language tag", f"Rationale.\n```markdown\n{NEW}\n```\nDone.", 0.02,
     True),
    ("markers without brackets", f"Rationale.\nBEGIN NEW TEXT\n{NEW}\nEND NEW TEXT", 0.01, True),
    ("markers in lower case", f"Rationale.\n<<<begin new text>>>\n{NEW}\n<<<end new text>>>", 0.01,
     True),
    ("markers inside a fenced block", f"Rationale.\n```\n{BEGIN}\n{NEW}\n{END}\n```", 0.01, True),
    ("prose only, no delimiters", f"I suggest: {NEW}", 0.01, False),
    ("two fenced blocks (which one?)", f"```\n{NEW}\n```\nor shorter:\n```\nBe brief.\n```", 0.01,
     False),
]


def strict(text: str) -> str | None:
    start = text.rfind(BEGIN)
    if start < 0:
        return None
    end = text.find(END, start + len(BEGIN))
    return None if end < 0 else text[start + len(BEGIN) : end].strip() or None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench reflection-format", description=__doc__)
    parser.parse_args(argv)
    lost_strict = lost_gepad = usable = 0.0
    print("| answer shape | share | holds an answer | strict finds it | gepad finds it |")
    print("|---|--:|:-:|:-:|:-:|")
    for name, text, share, has_answer in SHAPES:
        by_strict = strict(text) == NEW
        proposal = parse_proposal(Reply(text), CURRENT, 10_000)
        by_gepad = proposal.text == NEW
        found = "yes" if by_gepad else f"no: {proposal.rejection}"
        print(f"| {name} | {share:.0%} | {'yes' if has_answer else 'no'} | "
              f"{'yes' if by_strict else 'no'} | {found} |")
        if has_answer:
            usable += share
            lost_strict += share * (not by_strict)
            lost_gepad += share * (not by_gepad)
    print(f"\nproposals with a usable answer lost to format: strict {lost_strict / usable:.1%}, "
          f"gepad {lost_gepad / usable:.1%} (of the {usable:.0%} of replies that hold one)")
    return 0
