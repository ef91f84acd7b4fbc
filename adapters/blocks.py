"""gepad's marked block inside a Markdown file a person also writes in (AGENTS.md, Copilot's
instructions): a begin marker line, the prompt, an end marker line. Everything outside the block
is the person's and is kept byte for byte; a block whose markers are not exactly one begin
followed by one end is never written over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BEGIN", "END", "BlockError", "Found", "find_block", "normalize", "place_block", "render_block",
]

BEGIN = "<!-- gepad:begin"  # the begin line starts so; the rest of it says what the block is
END = "<!-- gepad:end -->"


class BlockError(ValueError):
    """The block cannot be written without guessing."""


@dataclass(frozen=True)
class Found:
    state: Literal["absent", "complete", "incomplete", "ambiguous"]
    start: int = 0  # where the begin line starts
    end: int = 0  # where the end marker ends (its line break is outside the block)
    text: str = ""  # the prompt in the block, normalized
    begin_line: str = ""


def normalize(text: str) -> str:
    """A prompt as compared: line breaks as \\n, no surrounding blank space."""
    return text.replace("\r\n", "\n").strip()


def _lines(doc: str) -> list[tuple[int, str]]:
    """(offset, line without its line break) of each line; only \\n breaks lines, as in the
    Markdown tools that read these files (str.splitlines would break on \\x0c and more)."""
    lines, at = [], 0
    for line in doc.split("\n"):
        lines.append((at, line.removesuffix("\r")))
        at += len(line) + 1
    return lines


def _is_begin(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(BEGIN) and stripped.endswith("-->")


def _is_end(line: str) -> bool:
    return line.strip() == END


def find_block(doc: str) -> Found:
    lines = _lines(doc)
    begins = [i for i, (_, line) in enumerate(lines) if _is_begin(line)]
    ends = [i for i, (_, line) in enumerate(lines) if _is_end(line)]
    if not begins and not ends:
        return Found("absent")
    if len(begins) > 1 or len(ends) > 1:
        return Found("ambiguous")
    if not begins or not ends or ends[0] < begins[0]:
        return Found("incomplete")
    (b,), (e,) = begins, ends
    start, begin_line = lines[b]
    inner_start = doc.index("\n", start) + 1  # the end line follows: there is a break
    end_at, end_line = lines[e]
    return Found("complete", start, end_at + len(end_line), normalize(doc[inner_start:end_at]),
                 begin_line)


def render_block(begin_line: str, text: str) -> str:
    for line in text.split("\n"):
        if _is_begin(line) or _is_end(line):
            raise BlockError("the prompt holds a line gepad uses as its block's marker")
    return f"{begin_line}\n{normalize(text)}\n{END}"


def place_block(doc: str, begin_line: str, text: str) -> str:
    """``doc`` with its block holding ``text`` (appended at the end when it has none yet)."""
    found = find_block(doc)
    block = render_block(begin_line, text)
    if found.state == "complete":
        if found.text == normalize(text) and found.begin_line == begin_line:
            return doc
        return doc[:found.start] + block + doc[found.end:]
    if found.state == "absent":
        if not doc:
            return block + "\n"
        gap = "" if doc.endswith("\n\n") else "\n" if doc.endswith("\n") else "\n\n"
        return doc + gap + block + "\n"
    if found.state == "incomplete":
        raise BlockError("gepad's block has a begin marker without an end marker or the other "
                         "way round (a save in progress?); fix the markers by hand")
    raise BlockError("the file holds gepad's markers more than once; keep one block")
