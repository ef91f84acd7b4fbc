"""The process seam of the command adapter: run argv with bytes on stdin, no shell.
`AnyioProcesses` runs real processes; `MemoryProcesses` answers from a script."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import anyio

__all__ = ["AnyioProcesses", "Finished", "MemoryProcesses", "Processes"]


@dataclass(frozen=True)
class Finished:
    returncode: int
    stderr: bytes = b""


class Processes(Protocol):
    async def run(self, argv: Sequence[str], stdin: bytes, *, env: Mapping[str, str],
                  cwd: Path | None) -> Finished:
        """Run to the end; cancelled, the process is killed."""
        ...


class AnyioProcesses:
    async def run(self, argv: Sequence[str], stdin: bytes, *, env: Mapping[str, str],
                  cwd: Path | None) -> Finished:
        done = await anyio.run_process(list(argv), input=stdin, check=False, env=dict(env),
                                       cwd=cwd)
        return Finished(done.returncode, done.stderr)


@dataclass
class MemoryProcesses:
    answers: list[Finished | Exception] = field(default_factory=list)
    runs: list[tuple[list[str], bytes, dict[str, str]]] = field(default_factory=list)

    async def run(self, argv: Sequence[str], stdin: bytes, *, env: Mapping[str, str],
                  cwd: Path | None) -> Finished:
        self.runs.append((list(argv), stdin, dict(env)))
        answer = self.answers.pop(0) if self.answers else Finished(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
