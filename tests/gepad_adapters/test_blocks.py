"""gepad's block in AGENTS.md: written and rewritten without disturbing a byte around it, over
random surrounding text from a seeded generator (the same cases on every run)."""

from __future__ import annotations

import random

import pytest

from gepad_adapters.blocks import (
    BEGIN,
    END,
    BlockError,
    find_block,
    normalize,
    place_block,
)

HEADER = f"{BEGIN} alice's prompt for editor, kept by gepad. -->"
# Pieces that look like Markdown, like the markers, and like trouble: other line breaks, CRLF,
# non-ASCII, HTML comments, marker words on lines that are not markers.
PIECES = [
    "# Project notes", "- use ruff", "```sh\nmake test\n```", "\n", "\r\n", "\n\n", " ", "\t",
    "é", "日本語", "🙂", "\u2028", "\x0c", "<!-- a comment -->", "<!-- gepad", "gepad:begin",
    "gepad:end", "-->", "<!-- gepad:end", "x <!-- gepad:end -->", "<!--gepad:begin-->",
    "Always run the tests.", "|a|b|\n|-|-|", ">", "---", "@AGENTS.md", "",
]


def random_text(rng: random.Random, pieces: int) -> str:
    return "".join(rng.choice(PIECES) + rng.choice(["", " ", "\n"]) for _ in range(pieces))


def surrounding(rng: random.Random) -> tuple[str, str]:
    """Text before a block (ending a line) and after it (starting with a line break)."""
    while True:
        before, after = random_text(rng, rng.randrange(0, 12)), random_text(rng, rng.randrange(12))
        before = before if not before or before.endswith("\n") else before + "\n"
        after = after if not after or after.startswith(("\n", "\r\n")) else "\n" + after
        if find_block(before + after).state == "absent":
            return before, after


def prompt(rng: random.Random) -> str:
    """A prompt without marker lines (one with them is refused: the last test)."""
    while True:
        text = normalize(random_text(rng, rng.randrange(1, 8))) or "Be brief."
        if find_block(text).state == "absent":
            return text


CASES = 400


@pytest.mark.parametrize("seed", range(4))
def test_rewriting_the_block_keeps_every_byte_around_it(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(CASES):
        before, after = surrounding(rng)
        old, new = prompt(rng), prompt(rng)
        doc = before + place_block("", HEADER, old).removesuffix("\n") + after
        assert find_block(doc).text == normalize(old)
        rewritten = place_block(doc, HEADER, new)
        found = find_block(rewritten)
        assert (found.state, found.text) == ("complete", normalize(new))
        assert rewritten[:found.start] == before
        assert rewritten[found.end:] == after
        # Writing the same prompt again changes nothing.
        assert place_block(rewritten, HEADER, new) == rewritten


@pytest.mark.parametrize("seed", range(4))
def test_a_file_without_a_block_gets_one_at_its_end_and_keeps_its_text(seed: int) -> None:
    rng = random.Random(1000 + seed)
    for _ in range(CASES):
        doc, _ = surrounding(rng)
        text = prompt(rng)
        placed = place_block(doc, HEADER, text)
        assert placed.startswith(doc)
        found = find_block(placed)
        assert (found.state, found.text) == ("complete", normalize(text))
        assert placed[found.end:] == "\n"
        # Nothing but blank lines between the person's text and the block.
        assert placed[len(doc):found.start].strip("\n") == ""


def test_the_prompt_is_read_without_surrounding_space_and_with_plain_line_breaks() -> None:
    doc = f"intro\r\n{HEADER}\r\n\r\n  Be brief.\r\nNo emojis.  \r\n\r\n{END}\r\noutro\r\n"
    found = find_block(doc)
    assert (found.state, found.text) == ("complete", "Be brief.\r\nNo emojis.".replace("\r", ""))
    assert place_block(doc, HEADER, "Be brief.\nNo emojis.") == doc
    rewritten = place_block(doc, HEADER, "Be briefer.")
    assert rewritten == f"intro\r\n{HEADER}\nBe briefer.\n{END}\r\noutro\r\n"


@pytest.mark.parametrize(("doc", "state"), [
    (f"a\n{HEADER}\nhalf a prompt", "incomplete"),
    (f"a\n{END}\nb", "incomplete"),
    (f"{END}\n{HEADER}\n", "incomplete"),
    (f"{HEADER}\none\n{END}\n{HEADER}\ntwo\n{END}\n", "ambiguous"),
    (f"{HEADER}\none\n{END}\n{END}\n", "ambiguous"),
])
def test_a_block_that_is_not_one_begin_then_one_end_is_never_written_over(
    doc: str, state: str,
) -> None:
    assert find_block(doc).state == state
    with pytest.raises(BlockError):
        place_block(doc, HEADER, "Be brief.")


def test_a_prompt_holding_a_marker_line_is_refused() -> None:
    with pytest.raises(BlockError, match="marker"):
        place_block("", HEADER, f"Be brief.\n{END}\nmore")
