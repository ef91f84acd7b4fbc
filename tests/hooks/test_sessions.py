"""Each agent session's exchange awaiting a verdict, kept between hook runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gepad.hooks import Exchange, Sessions
from gepad.hooks.sessions import IDLE_SECONDS


def test_an_exchange_is_kept_per_agent_and_session(tmp_path: Path) -> None:
    sessions = Sessions(tmp_path / "sessions")
    assert sessions.pending("cursor", "c1") is None
    sessions.keep("cursor", "c1", Exchange("g1", "Write a docstring", "Done."))
    sessions.keep("claude-code", "c1", Exchange("u1", "Fix it", "Fixed."))
    assert sessions.pending("cursor", "c1") == Exchange("g1", "Write a docstring", "Done.")
    assert sessions.pending("claude-code", "c1") == Exchange("u1", "Fix it", "Fixed.")
    # A session id is never a path: it cannot leave the folder.
    sessions.keep("cursor", "../../etc/passwd", Exchange("g", "p", "a"))
    assert all(p.parent == tmp_path / "sessions" for p in (tmp_path / "sessions").iterdir())
    assert oct((tmp_path / "sessions").stat().st_mode & 0o777) == "0o700"
    sessions.forget("cursor", "c1")
    assert sessions.pending("cursor", "c1") is None


def test_idle_sessions_are_pruned(tmp_path: Path) -> None:
    sessions = Sessions(tmp_path / "sessions")
    sessions.keep("cursor", "old", Exchange("g1", "p", "a"))
    sessions.keep("cursor", "new", Exchange("g2", "p", "a"))
    [old] = [p for p in (tmp_path / "sessions").iterdir()
             if sessions.pending("cursor", "old") and p.read_text().find('"g1"') >= 0]
    long_ago = time.time() - IDLE_SECONDS - 60
    os.utime(old, (long_ago, long_ago))
    assert sessions.prune() == 1
    assert sessions.pending("cursor", "old") is None
    assert sessions.pending("cursor", "new") is not None
