"""``Client``: the daemon's API for blocking code (threads, scripts, the CLI)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, Unpack, overload

import grpc

from gepad.client import requests
from gepad.client.base import AUTO_SPOOL, BaseClient, PromptWatch, SpoolSetting, text_or_fallback
from gepad.client.cache import Fallback, PromptCache
from gepad.client.connection import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_TIMEOUT
from gepad.client.events import EventLike, FeedbackFields, as_event
from gepad.client.sender import FeedbackSender, SenderStats
from gepad.client.status_errors import GepadError, from_rpc_error
from gepad.v1 import gepad_pb2 as pb
from gepad.v1.gepad_pb2_grpc import GepadStub

__all__ = ["Client"]

_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")


class Client(BaseClient):
    """Use as ``with Client("unix:///run/gepad/gepad.sock") as client: ...`` (or ``close()``)."""

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        cache: PromptCache | None = None,
        channel: grpc.Channel | None = None,
        spool: SpoolSetting = AUTO_SPOOL,
        tls_ca: str | Path | bytes | None = None,
    ) -> None:
        """``channel``: a channel of your own (interceptors, a shared pool) instead of one
        dialled to ``target``; the client uses it as given and leaves closing it to you.
        ``spool``: see ``BaseClient``. ``tls_ca``: the CA (PEM bytes or file) that signed a TCP
        daemon's TLS certificate."""
        super().__init__(
            target, token=token, timeout=timeout, max_message_bytes=max_message_bytes, cache=cache,
            spool=spool, tls_ca=tls_ca,
        )
        self._owns_channel = channel is None
        self._channel = channel or self.connection.dial()
        self.stub = GepadStub(self._channel)
        # Stale prompts are refreshed here, off the caller's thread; made on first need.
        self._refresher: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # Queued feedback's sender; made on first need, or now to replay what an earlier run
        # spooled.
        self._feedback: FeedbackSender | None = None
        if self._spool_waiting():
            self._sender()

    def _sender(self) -> FeedbackSender:
        with self._lock:
            if self._feedback is None:
                self._feedback = self._new_sender(self._send_batch)
            return self._feedback

    def _send_batch(self, batch: pb.FeedbackBatch) -> pb.FeedbackBatchResult:
        return self.stub.RecordFeedbackBatch(
            batch, timeout=self.connection.timeout, metadata=self.connection.metadata
        )

    def close(self, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        """Wait up to ``timeout`` seconds for queued feedback to be acknowledged (with the daemon
        unreachable it goes to the spool at once), then close the channel."""
        with self._lock:
            sender, self._feedback = self._feedback, None
        if sender is not None:
            sender.close(timeout)
        with self._lock:
            refresher, self._refresher = self._refresher, None
        if refresher is not None:
            refresher.shutdown(wait=False, cancel_futures=True)
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _unary(self, method: grpc.UnaryUnaryMultiCallable[_Req, _Resp], request: _Req) -> _Resp:
        try:
            return method(
                request, timeout=self.connection.timeout, metadata=self.connection.metadata
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    def _spawn(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if self._refresher is None:
                self._refresher = ThreadPoolExecutor(2, thread_name_prefix="gepad-refresh")
            self._refresher.submit(fn)

    # ------------------------------------------------------------------ programs

    def upsert_program(self, program: pb.Program) -> pb.UpsertProgramResponse:
        return self._unary(self.stub.UpsertProgram, requests.upsert_program(program))

    def get_program(self, name: str) -> pb.Program:
        return self._unary(self.stub.GetProgram, requests.get_program(name))

    def list_programs(self) -> pb.ListProgramsResponse:
        return self._unary(self.stub.ListPrograms, pb.ListProgramsRequest())

    # ------------------------------------------------------------------ feedback

    @overload
    def record_feedback(
        self, event: pb.FeedbackEvent, /, *, wait: Literal[False] = ...
    ) -> str: ...
    @overload
    def record_feedback(
        self, event: pb.FeedbackEvent, /, *, wait: Literal[True]
    ) -> pb.RecordFeedbackResponse: ...
    @overload
    def record_feedback(
        self, /, *, wait: Literal[False] = ..., **fields: Unpack[FeedbackFields]
    ) -> str: ...
    @overload
    def record_feedback(
        self, /, *, wait: Literal[True], **fields: Unpack[FeedbackFields]
    ) -> pb.RecordFeedbackResponse: ...
    def record_feedback(
        self, event: pb.FeedbackEvent | None = None, /, *, wait: bool = False, **fields: Any
    ) -> str | pb.RecordFeedbackResponse:
        """Record one event: a ready ``FeedbackEvent``, or ``feedback_event``'s keywords
        (``user_id=..., program=..., kind="correction", input="...", correction="..."``).

        By default the event is queued and its ``event_id`` returned at once; a background
        sender delivers it in batches, retrying and spooling while the daemon is unreachable
        (``flush()`` waits for the acknowledgements). ``wait=True`` sends it now and returns
        the daemon's answer once the event is committed, raising its refusal.
        """
        request = requests.record_feedback(event, fields)
        if wait:
            return self._unary(self.stub.RecordFeedback, request)
        self._sender().enqueue(request.event)
        return request.event.event_id

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event was acknowledged (stored, a duplicate, or refused:
        see ``feedback_stats``); False if ``timeout`` seconds passed first."""
        with self._lock:
            sender = self._feedback
        return True if sender is None else sender.flush(timeout)

    @property
    def feedback_stats(self) -> SenderStats:
        """What the background sender did with queued events, refusals included."""
        return self._sender().stats

    def record_feedback_batch(self, events: Iterable[EventLike]) -> pb.FeedbackBatchResult:
        """Send ``events`` now as one batch; the answer has each one's outcome, in order, once
        the valid ones are committed (an invalid one is refused alone)."""
        batch = pb.FeedbackBatch(events=[as_event(e) for e in events])
        return self._unary(self.stub.RecordFeedbackBatch, batch)

    def stream_feedback(self, events: Iterable[EventLike]) -> pb.StreamFeedbackResponse:
        """Bulk ingest in one call (one transaction on the daemon: all stored, or none).

        Events are converted as they are sent; one that cannot be converted raises ``ValueError``
        and cancels the call, so nothing is stored.
        """
        failure: list[ValueError] = []

        def messages() -> Iterator[pb.FeedbackEvent]:
            for item in events:
                try:
                    yield as_event(item)
                except ValueError as exc:
                    # grpc swallows exceptions raised by a request iterator into a bare
                    # CANCELLED; keep ours to re-raise it with its message.
                    failure.append(exc)
                    raise

        try:
            return self.stub.StreamFeedback(
                messages(), timeout=self.connection.timeout, metadata=self.connection.metadata
            )
        except grpc.RpcError as exc:
            if failure:
                raise failure[0] from None
            raise from_rpc_error(exc) from exc

    # ------------------------------------------------------------------ serving

    def fetch_prompt(self, user_id: str, program: str) -> pb.Prompt:
        """Ask the daemon now, bypassing (but updating) the cache."""
        started = self.cache.clock()
        prompt = self._unary(self.stub.GetPrompt, requests.get_prompt(user_id, program))
        self.cache.store(prompt, fetched_at=started)
        return prompt

    def get_prompt(
        self, user_id: str, program: str, *, fallback: Fallback | None = None
    ) -> pb.Prompt:
        """The served prompt through the stale-while-revalidate cache.

        With a ``fallback`` this never raises when the daemon is unreachable: it answers with the
        last prompt the daemon sent, else the fallback (with an empty ``candidate_id``).
        """
        request = requests.get_prompt(user_id, program)
        return self.cache.get_or_fetch(
            user_id,
            program,
            lambda: self._unary(self.stub.GetPrompt, request),
            spawn=self._spawn,
            fallback=fallback,
        )

    def prompt_text(
        self, user_id: str, program: str, fallback: str, *, component: str = "system"
    ) -> str:
        """The text of one component of the user's prompt: the common case in one call.

        Never raises: ``fallback`` is the answer whenever no personalized prompt can be served
        (the daemon unreachable with nothing cached, the program not registered, the component
        missing, a token refused), each logged as a warning. ``get_prompt`` returns the
        whole message (every component, the candidate id to attribute feedback to, the version).
        """
        try:
            prompt = self.get_prompt(user_id, program, fallback={component: fallback})
        except GepadError as exc:
            return text_or_fallback(None, component, fallback, exc)
        return text_or_fallback(prompt, component, fallback)

    def watch_prompt(
        self, user_id: str, program: str, *, reconnect: bool = True
    ) -> Generator[pb.Prompt, None, None]:
        """The served prompt now, then each change; every one also lands in the cache.

        If the daemon goes away after the first prompt arrived, the watch reconnects with backoff
        (``reconnect=False`` ends it instead); repeats of the prompt already seen are skipped. A
        daemon that cannot be reached at the start raises ``Unavailable`` at once.
        """
        request = requests.watch_prompt(user_id, program)
        watch = PromptWatch(self.cache, reconnect)
        while True:
            call = self.stub.WatchPrompt(request, metadata=self.connection.metadata)
            try:
                for prompt in call:
                    if watch.receive(prompt):
                        yield prompt
            except grpc.RpcError as exc:
                watch.lost(exc)
            finally:
                # grpc-stubs leaves cancel() untyped.
                call.cancel()  # type: ignore[no-untyped-call]
            if not reconnect:
                return
            watch.ended()
            time.sleep(watch.backoff.next())

    # ------------------------------------------------------------------ lineage

    def list_lineage(self, user_id: str, program: str) -> pb.ListLineageResponse:
        return self._unary(self.stub.ListLineage, requests.list_lineage(user_id, program))

    def rollback(
        self, user_id: str, program: str, candidate_id: str, *, note: str = ""
    ) -> pb.Prompt:
        """Serve an earlier candidate and pin it."""
        request = requests.rollback(user_id, program, candidate_id, note)
        prompt = self._unary(self.stub.Rollback, request)
        self.cache.store(prompt)
        return prompt

    def unpin(self, user_id: str, program: str) -> pb.Prompt:
        prompt = self._unary(self.stub.Unpin, requests.unpin(user_id, program))
        self.cache.store(prompt)
        return prompt

    # ------------------------------------------------------------------ evolution

    def evolve(
        self,
        user_id: str,
        program: str,
        *,
        max_iterations: int = 0,
        budget: pb.Budget | None = None,
        seed: int = 0,
    ) -> pb.EvolveResponse:
        request = requests.evolve(user_id, program, max_iterations, budget, seed)
        return self._unary(self.stub.Evolve, request)

    def get_run(self, run_id: str) -> pb.Run:
        return self._unary(self.stub.GetRun, requests.get_run(run_id))

    def list_runs(self, user_id: str, program: str, *, limit: int = 0) -> pb.ListRunsResponse:
        return self._unary(self.stub.ListRuns, requests.list_runs(user_id, program, limit))

    def watch_run(self, run_id: str) -> Generator[pb.RunProgress, None, None]:
        """Progress events of one run until it finishes."""
        call = self.stub.WatchRun(requests.watch_run(run_id), metadata=self.connection.metadata)
        try:
            yield from call
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()  # type: ignore[no-untyped-call]

    def get_frontier(self, user_id: str, program: str) -> pb.GetFrontierResponse:
        return self._unary(self.stub.GetFrontier, requests.get_frontier(user_id, program))

    def get_rubric(self, user_id: str, program: str) -> pb.Rubric:
        """What the user asked for across all their feedback, as the judge grades it."""
        return self._unary(self.stub.GetRubric, requests.get_rubric(user_id, program))

    def list_evaluators(self, user_id: str, program: str) -> pb.ListEvaluatorsResponse:
        """The user's evaluators, their calibration and status, and the eval coverage."""
        return self._unary(self.stub.ListEvaluators, requests.list_evaluators(user_id, program))

    def list_adapters(self) -> pb.ListAdaptersResponse:
        """Admin: each adapter target, what it last delivered and its last error."""
        return self._unary(self.stub.ListAdapters, requests.list_adapters())
