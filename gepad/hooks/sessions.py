"""The exchange of each agent session still waiting for the person's next prompt to judge it.

Kept on disk because every hook is a new process: the Stop hook records the answer, and the next
UserPromptSubmit (maybe hours later) reads it back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path

from gepad.atomic_files import write_atomically
from gepad.hooks.file_edits import FileEdit
from gepad.hooks.files import private_dir
from gepad.hooks.turns import Exchange

__all__ = ["Sessions"]

# A session nobody came back to in this long will not be: its exchange is dropped unjudged.
IDLE_SECONDS = 30 * 24 * 3600


class Sessions:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, agent: str, session: str) -> Path:
        # Session ids come from the editor: hashed, they cannot name a path outside this folder.
        digest = hashlib.sha256(f"{agent}\0{session}".encode()).hexdigest()[:32]
        return self.directory / f"{agent}-{digest}.json"

    def pending(self, agent: str, session: str) -> Exchange | None:
        try:
            data = json.loads(self._path(agent, session).read_text(encoding="utf-8"))
            return Exchange(turn=str(data["turn"]), prompt=str(data["prompt"]),
                            answer=str(data["answer"]),
                            edits=tuple(FileEdit.from_json(e) for e in data.get("edits", ())))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def keep(self, agent: str, session: str, exchange: Exchange) -> None:
        private_dir(self.directory)
        data = {"turn": exchange.turn, "prompt": exchange.prompt, "answer": exchange.answer,
                "edits": [e.to_json() for e in exchange.edits]}
        write_atomically(self._path(agent, session), json.dumps(data).encode())

    def forget(self, agent: str, session: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(agent, session).unlink()

    def prune(self, now: float | None = None) -> int:
        """Forget sessions idle for IDLE_SECONDS, so the folder does not grow forever."""
        cutoff = (time.time() if now is None else now) - IDLE_SECONDS
        dropped = 0
        with contextlib.suppress(FileNotFoundError):
            for path in self.directory.glob("*.json"):
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        dropped += 1
        return dropped
