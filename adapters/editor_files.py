"""The files the editor adapter may keep in a repository, each opt-in by its name in ``files``.

Each knows how to render the served prompt into its current content (unchanged when it already
says so) and, when it carries the prompt's text, how to read that text back out of a person's
edit. Their formats are the tools' own:

- ``agents``: AGENTS.md, read by Codex, Copilot, Cursor, Cline and others; gepad owns one marked
  block and never touches the text around it.
- ``claude``: CLAUDE.md imports it with an ``@AGENTS.md`` line (Claude Code's import syntax).
- ``cursor``: .cursor/rules/gepad.mdc, a Cursor rule with ``alwaysApply: true`` (a boolean).
- ``copilot``: .github/copilot-instructions.md, with the same marked block as AGENTS.md.
- ``continue``: .continue/rules/gepad.md, a Continue rule (front matter ``name:``).
- ``aider``: .aider.conf.yml lists AGENTS.md under ``read:``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Protocol

from .blocks import BEGIN, BlockError, find_block, normalize, place_block

__all__ = ["FILE_KINDS", "EditorFileError", "PromptFile", "Read", "editor_files"]


class EditorFileError(ValueError):
    """A file gepad cannot bring up to date without guessing what its owner wants."""


@dataclass(frozen=True)
class Read:
    """The prompt text a file holds, or why there is none to read."""

    text: str | None
    problem: str = ""


class PromptFile(Protocol):
    @property
    def path(self) -> str:
        """Relative to the repository's root."""
        ...

    @property
    def carries_prompt(self) -> bool: ...

    def render(self, current: str | None, text: str) -> str:
        """The content that delivers ``text`` (``current`` itself when it does already)."""
        ...

    def read(self, content: str) -> Read: ...


def _append(doc: str, addition: str) -> str:
    if not doc:
        return addition
    return doc + ("" if doc.endswith("\n\n") else "\n" if doc.endswith("\n") else "\n\n") + addition


@dataclass(frozen=True)
class BlockFile:
    path: str
    begin_line: str
    carries_prompt: bool = True

    def render(self, current: str | None, text: str) -> str:
        try:
            return place_block(current or "", self.begin_line, text)
        except BlockError as exc:
            raise EditorFileError(str(exc)) from None

    def read(self, content: str) -> Read:
        found = find_block(content)
        if found.state == "complete":
            return Read(found.text)
        return Read(None, {
            "absent": "gepad's block is gone (the next delivery writes it again)",
            "incomplete": "gepad's block has no end marker (a save in progress?)",
            "ambiguous": "gepad's markers are there more than once",
        }[found.state])


@dataclass(frozen=True)
class RuleFile:
    """A file gepad owns whole: front matter, then the prompt."""

    path: str
    front_matter: tuple[str, ...]
    carries_prompt: bool = True

    def _header(self) -> str:
        return "\n".join(("---", *self.front_matter, "---"))

    def render(self, current: str | None, text: str) -> str:
        if current is not None:
            header, _, _ = _split_front_matter(current)
            now = self.read(current)
            if header == self._header() and now.text == normalize(text):
                return current
        return f"{self._header()}\n\n{normalize(text)}\n"

    def read(self, content: str) -> Read:
        header, body, problem = _split_front_matter(content)
        if header is None:
            return Read(None, problem)
        return Read(normalize(body))


def _split_front_matter(content: str) -> tuple[str | None, str, str]:
    lines = content.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        return None, "", "it does not start with front matter (---)"
    for i, line in enumerate(lines[1:], 1):
        if line.strip() == "---":
            return "\n".join(lines[:i + 1]), "\n".join(lines[i + 1:]), ""
    return None, "", "its front matter never ends (a save in progress?)"


_IMPORT = re.compile(r"^[ \t]*@(\./)?AGENTS\.md[ \t]*\r?$", re.MULTILINE)


@dataclass(frozen=True)
class ImportLine:
    """CLAUDE.md importing AGENTS.md; gepad adds the line once and leaves the file alone then."""

    path: str = "CLAUDE.md"
    carries_prompt: bool = False

    def render(self, current: str | None, text: str) -> str:
        if current is not None and _IMPORT.search(current):
            return current
        return _append(current or "", "@AGENTS.md\n")

    def read(self, content: str) -> Read:
        return Read(None, "holds no prompt")


_READ_KEY = re.compile(r"^read[ \t]*:(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class AiderRead:
    """.aider.conf.yml reading AGENTS.md. gepad adds a ``read:`` key when there is none and
    never rewrites one the person wrote: YAML edited by pattern is YAML broken sooner or later."""

    path: str = ".aider.conf.yml"
    carries_prompt: bool = False

    def render(self, current: str | None, text: str) -> str:
        if current is None:
            return "read: [AGENTS.md]\n"
        key = _READ_KEY.search(current)
        if key is None:
            return _append(current, "read: [AGENTS.md]\n")
        # The key's value: the rest of its line and the indented or "- " lines below it.
        value = [key.group(1)]
        for line in current[key.end():].split("\n")[1:]:
            if line.startswith((" ", "\t", "-")) or not line.strip():
                value.append(line)
            else:
                break
        if re.search(r"(^|[\s\[,'\"/-])AGENTS\.md\b", "\n".join(value)):
            return current
        raise EditorFileError("its read: key does not list AGENTS.md; add AGENTS.md to it "
                              "(gepad does not rewrite YAML it did not write)")

    def read(self, content: str) -> Read:
        return Read(None, "holds no prompt")


FILE_KINDS = ("agents", "claude", "cursor", "copilot", "continue", "aider")


def editor_files(kinds: tuple[str, ...], user_id: str, program: str) -> list[PromptFile]:
    """The files for these kinds, AGENTS.md first (others point at it)."""
    unpin = f"`gepad unpin {user_id} {program}`"
    begin = (f"{BEGIN} {user_id}'s prompt for {program}, kept by gepad. Edit the text between "
             f"these markers and gepad adopts it, pinned until {unpin}. -->")
    about = f"{user_id}'s prompt for {program}, kept by gepad; your edits become the prompt"
    made: dict[str, PromptFile] = {
        "agents": BlockFile("AGENTS.md", begin),
        "claude": ImportLine(),
        "cursor": RuleFile(".cursor/rules/gepad.mdc",
                           (f"description: {json.dumps(about)}", "alwaysApply: true")),
        "copilot": BlockFile(".github/copilot-instructions.md", begin),
        "continue": RuleFile(".continue/rules/gepad.md",
                             (f"name: {json.dumps(f'gepad: {user_id} / {program}')}",
                              f"description: {json.dumps(about)}", "alwaysApply: true")),
        "aider": AiderRead(),
    }
    return [made[kind] for kind in FILE_KINDS if kind in kinds]
