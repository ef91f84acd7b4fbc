"""The client library's background feedback sender: queued events reach the daemon in batches,
survive its restarts, and are acknowledged only after the daemon committed them.

``record_feedback`` puts an event on a bounded queue and returns. One thread takes what is queued
(up to ``batch_events`` events or ``batch_bytes`` bytes, waiting at most ``linger`` seconds for
more), sends it as one ``RecordFeedbackBatch`` and, on UNAVAILABLE, RESOURCE_EXHAUSTED or
DEADLINE_EXCEEDED, retries with exponential backoff and jitter. While the daemon is unreachable
the batch and everything queued after it go to the spool (fsynced), which is replayed, oldest
first, once the daemon answers again, and at the next start if the application stopped first.
Events carry their ids, so a batch sent twice (committed, then the answer lost) is stored once.

The daemon refusing an event (invalid) or a whole batch (a token that does not reach the user) is
final: those events are dropped, logged, and listed in ``rejected``; retrying cannot fix them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from gepad.client.backoff import Backoff
from gepad.client.spool import Spool, SpoolFullError
from gepad.client.status_errors import from_rpc_error
from gepad.v1 import gepad_pb2 as pb

__all__ = ["FeedbackRejection", "FeedbackSender", "SenderStats"]

log = logging.getLogger("gepad.client")

# Statuses that say "not now": the daemon is restarting, full, or slow.
RETRYABLE = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
})
MAX_REJECTIONS_KEPT = 1000

SendBatch = Callable[[pb.FeedbackBatch], pb.FeedbackBatchResult]


@dataclass(frozen=True)
class FeedbackRejection:
    """An event the daemon refused for good: the field and reason it gave."""

    event_id: str
    field: str
    reason: str


@dataclass
class SenderStats:
    queued: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    # Events written to the spool because the daemon could not be reached.
    spooled: int = 0
    retries: int = 0
    # The newest refusals, oldest first (at most MAX_REJECTIONS_KEPT).
    rejections: deque[FeedbackRejection] = field(
        default_factory=lambda: deque(maxlen=MAX_REJECTIONS_KEPT)
    )


class FeedbackSender:
    """``send`` makes one RecordFeedbackBatch call (raising ``grpc.RpcError``); ``spool``
    returns the spool, made on first need (None: keep unsent events in memory only)."""

    def __init__(
        self,
        send: SendBatch,
        *,
        spool: Callable[[], Spool] | None = None,
        replay_at_start: bool = False,
        batch_events: int = 1000,
        batch_bytes: int = 1024 * 1024,
        linger: float = 0.005,
        max_queue: int = 100_000,
        backoff: Backoff | None = None,
    ) -> None:
        self._send = send
        self._make_spool = spool
        self._spool: Spool | None = None
        self.batch_events = batch_events
        self.batch_bytes = batch_bytes
        self.linger = linger
        self.max_queue = max_queue
        self._backoff = backoff or Backoff(initial=0.1, maximum=5.0)
        self.stats = SenderStats()
        self._cv = threading.Condition()
        self._queue: deque[pb.FeedbackEvent] = deque()
        self._busy = 0  # taken from the queue, neither acknowledged nor spooled yet
        self._spooled = 0  # bytes in the spool
        self._failing = False
        self._stopping = False
        self._abandon = False
        self._sequence = 0
        self._thread: threading.Thread | None = None
        self._ended = False  # the thread returned (closing, or a bug it logged)
        if replay_at_start:
            try:
                self._open_spool()
            except OSError as exc:
                log.warning("gepad: cannot open the feedback spool (%s)", exc)
            if self._spooled:
                self._start()

    # ------------------------------------------------------------------ the caller's side

    def enqueue(self, event: pb.FeedbackEvent, timeout: float | None = None) -> None:
        """Queue ``event``; blocks while ``max_queue`` events wait (the daemon down and the
        spool full or absent), raising TimeoutError after ``timeout`` seconds."""
        with self._cv:
            if self._stopping:
                raise RuntimeError("the feedback sender is closed")
            if not self._cv.wait_for(lambda: len(self._queue) < self.max_queue, timeout):
                raise TimeoutError(
                    f"{self.max_queue} feedback events are waiting for the daemon; none taken"
                )
            self._queue.append(event)
            self.stats.queued += 1
            self._cv.notify_all()
        if self._thread is None:
            self._start()

    def has_room(self) -> bool:
        with self._cv:
            return len(self._queue) < self.max_queue

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event queued so far was acknowledged (stored, a duplicate, or
        rejected) and the spool is empty; False if ``timeout`` passed first."""
        with self._cv:
            self._cv.wait_for(lambda: self._idle() or self._ended, timeout)
            return self._idle()

    def close(self, timeout: float | None = None) -> bool:
        """Deliver what is queued, then stop; with the daemon unreachable, what is left goes to
        the spool for the next start. After ``timeout`` seconds the sender stops trying (spooling
        what it can; without a spool, unsent events are lost and logged). True when nothing
        was left unacknowledged."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                with self._cv:
                    self._abandon = True
                    self._cv.notify_all()
                thread.join()
        with self._cv:
            left = len(self._queue) + self._busy
            idle = self._idle()
        if left:
            log.error("gepad: %d feedback events were not delivered and could not be spooled; "
                      "they are lost", left)
        if self._spool is not None:
            self._spool.close()
        return idle

    def _idle(self) -> bool:
        return not self._queue and not self._busy and not self._spooled

    def _start(self) -> None:
        with self._cv:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="gepad-feedback-sender", daemon=True
            )
        self._thread.start()

    # ------------------------------------------------------------------ the sender thread

    def _run(self) -> None:
        try:
            while True:
                if self._spooled:
                    if not self._replay():
                        return
                    continue
                batch = self._take()
                if batch is None:
                    return
                if not self._deliver(batch):
                    return
        except Exception:
            log.exception("gepad: the feedback sender stopped")
        finally:
            with self._cv:
                self._ended = True
                self._cv.notify_all()

    def _take(self) -> list[pb.FeedbackEvent] | None:
        with self._cv:
            self._cv.wait_for(lambda: self._queue or self._stopping)
            if not self._queue:
                return None
            deadline = time.monotonic() + self.linger
            while len(self._queue) < self.batch_events and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._cv.wait(remaining):
                    break
            batch = self._pop_batch()
            self._cv.notify_all()
            return batch

    def _pop_batch(self) -> list[pb.FeedbackEvent]:
        batch: list[pb.FeedbackEvent] = []
        size = 0
        while self._queue and len(batch) < self.batch_events:
            event = self._queue[0]
            n = event.ByteSize()
            if batch and size + n > self.batch_bytes:
                break
            batch.append(self._queue.popleft())
            size += n
        self._busy += len(batch)
        return batch

    def _deliver(self, batch: list[pb.FeedbackEvent]) -> bool:
        """Until acknowledged, or handed to the spool. False: stop the thread."""
        while True:
            if self._attempt(batch):
                self._settle(len(batch))
                return True
            if self._to_spool(batch):
                return True
            if not self._pause():
                return False

    def _replay(self) -> bool:
        """Send the spool's events, oldest first, then drop them from it."""
        if not self._pause_if_failing():
            return False
        spool = self._open_spool()
        events, mark = spool.read()
        for start in range(0, len(events), self.batch_events):
            chunk = events[start:start + self.batch_events]
            while not self._attempt(chunk):
                if not self._pause():
                    return False
        spool.consume(mark)
        with self._cv:
            self._spooled = spool.size()
            self._cv.notify_all()
        return True

    def _attempt(self, events: list[pb.FeedbackEvent]) -> bool:
        """One call. True when the daemon answered for every event (or refused the batch for
        good); False when trying again later may work."""
        self._sequence += 1
        try:
            result = self._send(pb.FeedbackBatch(events=events, sequence=self._sequence))
        except grpc.RpcError as exc:
            error = from_rpc_error(exc)
            code, reason = error.code, error.message or str(exc)
            if code in RETRYABLE:
                if not self._failing:
                    log.warning("gepad: feedback not delivered yet (%s: %s); retrying",
                                code.name, reason)
                self._failing = True
                self.stats.retries += 1
                return False
            log.error("gepad: the daemon refused a batch of %d feedback events (%s: %s); "
                      "they are dropped", len(events), code.name, reason)
            with self._cv:
                for event in events:
                    self._reject(FeedbackRejection(event.event_id, "", reason))
            return True
        if self._failing:
            log.warning("gepad: feedback delivery resumed")
        self._failing = False
        self._backoff.reset()
        with self._cv:
            self.stats.stored += result.stored
            self.stats.duplicates += result.duplicates
            for r in result.results:
                if r.outcome == pb.EVENT_OUTCOME_INVALID:
                    log.error("gepad: feedback event %s refused: %s: %s",
                              r.event_id, r.field, r.reason)
                    self._reject(FeedbackRejection(r.event_id, r.field, r.reason))
        return True

    def _reject(self, rejection: FeedbackRejection) -> None:
        self.stats.rejected += 1
        self.stats.rejections.append(rejection)

    def _settle(self, n: int) -> None:
        with self._cv:
            self._busy -= n
            self._cv.notify_all()

    def _open_spool(self) -> Spool:
        if self._spool is None:
            if self._make_spool is None:
                raise RuntimeError("no spool")
            self._spool = self._make_spool()
            with self._cv:
                self._spooled = self._spool.size()
        return self._spool

    def _to_spool(self, events: list[pb.FeedbackEvent]) -> bool:
        """Hand taken events to the spool; False if there is none or it is full."""
        if self._make_spool is None:
            return False
        try:
            spool = self._open_spool()
            spool.append(events)
        except (SpoolFullError, OSError) as exc:
            log.warning("gepad: cannot spool feedback (%s); keeping it in memory", exc)
            return False
        with self._cv:
            self._spooled = spool.size()
            self.stats.spooled += len(events)
            self._busy -= len(events)
            self._cv.notify_all()
        return True

    def _spill(self) -> None:
        """While the daemon is down, queued events go to the spool, so they survive the
        application and the queue keeps room."""
        if self._make_spool is None:
            return
        while True:
            with self._cv:
                if not self._queue:
                    return
                batch = self._pop_batch()
            if not self._to_spool(batch):
                with self._cv:
                    self._queue.extendleft(reversed(batch))
                    self._busy -= len(batch)
                return

    def _pause_if_failing(self) -> bool:
        return self._pause() if self._failing else not self._abandon

    def _pause(self) -> bool:
        """Back off before the next try, spooling what arrives meanwhile. False: give up now
        (closing, and either the time is out or the rest is safe in the spool)."""
        delay = self._backoff.next() * random.uniform(0.5, 1.0)
        end = time.monotonic() + delay
        while True:
            self._spill()
            with self._cv:
                if self._abandon:
                    return False
                if self._stopping and self._make_spool is not None:
                    # Closing with the daemon down: everything queued is in the spool now.
                    return False
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return True
                self._cv.wait(remaining)
