"""A person's edit of a delivered prompt, recorded as feedback: a PROMPT_EDIT event through the
store's one ingest path (the one RecordFeedback takes), so it becomes a human_edit node and is
served. It is served pinned: a person's words must not be overwritten by a round until they
unpin."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from gepad.errors import InvalidArgument
from gepad.feedback.event import FeedbackEvent
from gepad.feedback.validation import validate_event
from gepad.lineage import CandidateRecord, ServedState
from gepad.store.contract import StoreContract

__all__ = ["EditIntake", "EditOutcome"]


@dataclass(frozen=True)
class EditOutcome:
    adopted: bool
    note: str  # what became of it, in words


class EditIntake:
    def __init__(
        self,
        store: StoreContract,
        seed_of: Callable[[str], CandidateRecord | None],
        on_feedback: Callable[[str, str, int], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._seed_of = seed_of
        self._on_feedback = on_feedback
        self._clock = clock

    async def record(self, *, target: str, served: ServedState, components: Mapping[str, str],
                     where: str) -> EditOutcome:
        """Record the edit of ``served`` that a target saw in ``where`` (a file, say)."""
        if dict(components) == dict(served.components):
            return EditOutcome(False, "the same as what is served: nothing to adopt")
        seed = self._seed_of(served.program)
        if seed is None:
            return EditOutcome(False, f"not adopted: program {served.program!r} no longer exists")
        # The same edit of the same version is one event, however often the file is saved.
        digest = hashlib.sha256(
            json.dumps(sorted(components.items()), ensure_ascii=False).encode()).hexdigest()
        event_id = f"edit-{target}-v{served.version}-{digest[:16]}"
        event = FeedbackEvent(
            event_id=event_id, user_id=served.user_id, program=served.program,
            kind="prompt_edit", candidate_id=served.candidate_id, source="human",
            source_id=f"adapter:{target}", comment=f"edited by hand in {where}"[:8192],
            metadata={"adapter": target, "where": where[:1024]},
            edited_components=dict(components),
        )
        try:
            new = replace(validate_event(event, now=self._clock()), pin=True)
        except InvalidArgument as exc:
            return EditOutcome(False, f"not adopted: {exc.why} ({exc.field})")
        (result,) = await self._store.record_events([new], lambda program: seed)
        if result.duplicate:
            return EditOutcome(False, "adopted already")
        if self._on_feedback is not None:
            self._on_feedback(served.user_id, served.program, 1)
        return EditOutcome(True, f"adopted and pinned (event {event_id}); `gepad unpin "
                                 f"{served.user_id} {served.program}` lets rounds replace it")
