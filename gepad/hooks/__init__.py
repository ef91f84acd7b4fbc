"""Feedback from coding agents' hooks (Claude Code, Cursor): payloads → verdicts → events,
spooled on disk until the daemon has them. Used by ``gepad hook``; no daemon code imports it."""

from gepad.hooks.classify import Verdict, classify
from gepad.hooks.outcome import Outcome, Subject
from gepad.hooks.runner import AGENTS, run_hook
from gepad.hooks.sessions import Sessions
from gepad.hooks.spool import FlushReport, Spool
from gepad.hooks.turns import Exchange, event_id_for

__all__ = [
    "AGENTS",
    "Exchange",
    "FlushReport",
    "Outcome",
    "Sessions",
    "Spool",
    "Subject",
    "Verdict",
    "classify",
    "event_id_for",
    "run_hook",
]
