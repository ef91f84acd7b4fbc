"""Each file the editor adapter can keep, in its tool's own format."""

from __future__ import annotations

import pytest

from gepad_adapters.editor_files import (
    AiderRead,
    EditorFileError,
    ImportLine,
    editor_files,
)


def by_path(*kinds: str) -> dict[str, object]:
    return {f.path: f for f in editor_files(kinds, "alice", "editor")}


def front_matter(content: str) -> dict[str, str]:
    lines = content.split("\n")
    assert lines[0] == "---"
    end = lines.index("---", 1)
    return dict(line.split(": ", 1) for line in lines[1:end])


def test_agents_md_comes_first_whatever_order_the_config_gives() -> None:
    files = editor_files(("aider", "cursor", "claude", "agents", "copilot", "continue"),
                         "alice", "editor")
    assert [f.path for f in files] == [
        "AGENTS.md", "CLAUDE.md", ".cursor/rules/gepad.mdc", ".github/copilot-instructions.md",
        ".continue/rules/gepad.md", ".aider.conf.yml"]
    assert [f.carries_prompt for f in files] == [True, False, True, True, True, False]


def test_the_cursor_rule_always_applies_and_reads_back_its_prompt() -> None:
    rule = editor_files(("cursor",), "alice", "editor")[0]
    content = rule.render(None, "Be brief.\n")
    meta = front_matter(content)
    # A YAML boolean, not the string "true": Cursor ignores a rule whose alwaysApply is a string.
    assert meta["alwaysApply"] == "true"
    assert meta["description"].startswith('"') and "alice" in meta["description"]
    assert content.endswith("---\n\nBe brief.\n")
    assert rule.read(content).text == "Be brief."
    assert rule.render(content, "Be brief.") is content
    assert rule.read(content.replace("Be brief.", "Be briefer.")).text == "Be briefer."
    # Front matter that never ends is a save in progress, not a prompt.
    assert rule.read("---\ndescription: x\nBe brief.").text is None
    assert rule.read("Be brief.").text is None


def test_the_continue_rule_has_a_name() -> None:
    rule = editor_files(("continue",), "alice", "editor")[0]
    meta = front_matter(rule.render(None, "Be brief."))
    assert meta["name"] == '"gepad: alice / editor"' and meta["alwaysApply"] == "true"


def test_copilot_instructions_keep_the_persons_text_around_the_block() -> None:
    copilot = by_path("copilot")[".github/copilot-instructions.md"]
    mine = "# Our conventions\nUse tabs.\n"
    content = copilot.render(mine, "Be brief.")  # type: ignore[attr-defined]
    assert content.startswith(mine) and copilot.read(content).text == "Be brief."  # type: ignore[attr-defined]
    with pytest.raises(EditorFileError, match="end marker"):
        copilot.render(content.replace("<!-- gepad:end -->", ""), "x")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("current", "expected"), [
    (None, "@AGENTS.md\n"),
    ("", "@AGENTS.md\n"),
    ("# Claude notes\nRun make.", "# Claude notes\nRun make.\n\n@AGENTS.md\n"),
    ("# Claude notes\n", "# Claude notes\n\n@AGENTS.md\n"),
    ("See below.\n  @AGENTS.md  \n", "See below.\n  @AGENTS.md  \n"),
    ("@./AGENTS.md\r\n", "@./AGENTS.md\r\n"),
])
def test_claude_md_imports_agents_md_once(current: str | None, expected: str) -> None:
    assert ImportLine().render(current, "ignored") == expected


@pytest.mark.parametrize(("current", "expected"), [
    (None, "read: [AGENTS.md]\n"),
    ("model: gpt-4o\n", "model: gpt-4o\n\nread: [AGENTS.md]\n"),
    ("read: AGENTS.md\n", "read: AGENTS.md\n"),
    ("read: [CONVENTIONS.md, AGENTS.md]\nmodel: x\n",
     "read: [CONVENTIONS.md, AGENTS.md]\nmodel: x\n"),
    ("read:\n  - CONVENTIONS.md\n  - ./AGENTS.md\nmodel: x\n",
     "read:\n  - CONVENTIONS.md\n  - ./AGENTS.md\nmodel: x\n"),
])
def test_aider_reads_agents_md(current: str | None, expected: str) -> None:
    assert AiderRead().render(current, "ignored") == expected


@pytest.mark.parametrize("current", [
    "read: CONVENTIONS.md\n",
    "read:\n  - CONVENTIONS.md\nnotes: AGENTS.md\n",
])
def test_aider_config_that_reads_other_files_is_left_to_its_owner(current: str) -> None:
    with pytest.raises(EditorFileError, match=r"add AGENTS\.md to it"):
        AiderRead().render(current, "ignored")
