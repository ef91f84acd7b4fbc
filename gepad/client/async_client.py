"""``AsyncClient``: the daemon's API for asyncio programs (grpc.aio, so asyncio only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Coroutine, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, Unpack, overload

import anyio
import grpc
import grpc.aio

from gepad.client import requests
from gepad.client.base import AUTO_SPOOL, BaseClient, PromptWatch, SpoolSetting, text_or_fallback
from gepad.client.cache import Fallback, PromptCache
from gepad.client.connection import DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_TIMEOUT
from gepad.client.events import EventLike, FeedbackFields, as_event
from gepad.client.sender import FeedbackSender, SenderStats
from gepad.client.status_errors import GepadError, from_rpc_error
from gepad.v1 import gepad_pb2 as pb
from gepad.v1.gepad_pb2_grpc import GepadStub

if TYPE_CHECKING:
    from gepad.v1.gepad_pb2_grpc import GepadAsyncStub

__all__ = ["AsyncClient"]

_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")


class AsyncClient(BaseClient):
    """Use as ``async with AsyncClient("unix:///run/gepad/gepad.sock") as client: ...``.

    The block owns the channel and the background refreshes of stale prompts: nothing outlives
    it. (Or call ``await client.__aenter__()`` and ``await client.aclose()`` yourself.)
    """

    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        cache: PromptCache | None = None,
        channel: grpc.aio.Channel | None = None,
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
        self._given_channel = channel
        self._channel: grpc.aio.Channel | None = None
        self._stub: GepadAsyncStub | None = None
        self._refreshes: set[asyncio.Task[None]] = set()
        # Queued feedback: the same sender as Client's, whose thread runs each call on this
        # client's channel and event loop (interceptors and credentials apply alike).
        self._feedback: FeedbackSender | None = None

    async def __aenter__(self) -> Self:
        if self._channel is not None:
            raise RuntimeError("this AsyncClient is already open")
        self._channel = self._given_channel or self.connection.dial_aio()
        self._stub = GepadStub(self._channel)
        if self._spool_waiting():
            self._sender()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _sender(self) -> FeedbackSender:
        if self._feedback is None:
            stub, connection = self.stub, self.connection
            loop = asyncio.get_running_loop()

            async def call(batch: pb.FeedbackBatch) -> pb.FeedbackBatchResult:
                result: pb.FeedbackBatchResult = await stub.RecordFeedbackBatch(
                    batch, timeout=connection.timeout, metadata=connection.metadata
                )
                return result

            def send(batch: pb.FeedbackBatch) -> pb.FeedbackBatchResult:
                return asyncio.run_coroutine_threadsafe(call(batch), loop).result()

            self._feedback = self._new_sender(send)
        return self._feedback

    # The wait runs in a thread (the sender's), where a cancel scope cannot reach it.
    async def aclose(self, timeout: float | None = DEFAULT_TIMEOUT) -> None:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for queued feedback to be acknowledged (with the daemon
        unreachable it goes to the spool at once), abandon pending prompt refreshes and close
        the channel."""
        sender, self._feedback = self._feedback, None
        if sender is not None:
            await anyio.to_thread.run_sync(sender.close, timeout)
        channel, self._channel, self._stub = self._channel, None, None
        refreshes, self._refreshes = self._refreshes, set()
        for task in refreshes:
            task.cancel()
        await asyncio.gather(*refreshes, return_exceptions=True)
        if channel is not None and channel is not self._given_channel:
            await channel.close(None)

    def _spawn(self, refresh: Callable[[], Coroutine[Any, Any, None]]) -> None:
        # A plain asyncio task rather than a task group held open across the caller's `async
        # with` block: a task group would wrap every exception leaving that block in an
        # ExceptionGroup. grpc.aio is asyncio-only anyway. Refreshes never raise (the cache
        # logs their failures), and aclose() cancels the ones still running.
        task = asyncio.get_running_loop().create_task(refresh())
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    @property
    def stub(self) -> GepadAsyncStub:
        """The raw generated stub, for anything this client does not wrap."""
        if self._stub is None:
            raise RuntimeError("use `async with AsyncClient(...) as client:` before calling it")
        return self._stub

    async def _unary(
        self, method: grpc.aio.UnaryUnaryMultiCallable[_Req, _Resp], request: _Req
    ) -> _Resp:
        try:
            return await method(
                request, timeout=self.connection.timeout, metadata=self.connection.metadata
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc

    # ------------------------------------------------------------------ programs

    async def upsert_program(self, program: pb.Program) -> pb.UpsertProgramResponse:
        return await self._unary(self.stub.UpsertProgram, requests.upsert_program(program))

    async def get_program(self, name: str) -> pb.Program:
        return await self._unary(self.stub.GetProgram, requests.get_program(name))

    async def list_programs(self) -> pb.ListProgramsResponse:
        return await self._unary(self.stub.ListPrograms, pb.ListProgramsRequest())

    # ------------------------------------------------------------------ feedback

    @overload
    async def record_feedback(
        self, event: pb.FeedbackEvent, /, *, wait: Literal[False] = ...
    ) -> str: ...
    @overload
    async def record_feedback(
        self, event: pb.FeedbackEvent, /, *, wait: Literal[True]
    ) -> pb.RecordFeedbackResponse: ...
    @overload
    async def record_feedback(
        self, /, *, wait: Literal[False] = ..., **fields: Unpack[FeedbackFields]
    ) -> str: ...
    @overload
    async def record_feedback(
        self, /, *, wait: Literal[True], **fields: Unpack[FeedbackFields]
    ) -> pb.RecordFeedbackResponse: ...
    async def record_feedback(
        self, event: pb.FeedbackEvent | None = None, /, *, wait: bool = False, **fields: Any
    ) -> str | pb.RecordFeedbackResponse:
        """Record one event: a ready ``FeedbackEvent``, or ``feedback_event``'s keywords
        (``user_id=..., program=..., kind="correction", input="...", correction="..."``).

        By default the event is queued and its ``event_id`` returned at once; a background
        sender delivers it in batches, retrying and spooling while the daemon is unreachable
        (``await flush()`` waits for the acknowledgements). ``wait=True`` sends it now and
        returns the daemon's answer once the event is committed, raising its refusal.
        """
        request = requests.record_feedback(event, fields)
        if wait:
            response: pb.RecordFeedbackResponse = await self._unary(
                self.stub.RecordFeedback, request
            )
            return response
        sender = self._sender()
        if sender.has_room():
            sender.enqueue(request.event)
        else:  # the queue is full: wait for room off the event loop
            await anyio.to_thread.run_sync(sender.enqueue, request.event)
        return request.event.event_id

    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until every queued event was acknowledged (stored, a duplicate, or refused:
        see ``feedback_stats``); False if ``timeout`` seconds passed first."""
        sender = self._feedback
        if sender is None:
            return True
        return await anyio.to_thread.run_sync(sender.flush, timeout)

    @property
    def feedback_stats(self) -> SenderStats:
        """What the background sender did with queued events, refusals included."""
        return self._sender().stats

    async def record_feedback_batch(
        self, events: Iterable[EventLike]
    ) -> pb.FeedbackBatchResult:
        """Send ``events`` now as one batch; the answer has each one's outcome, in order, once
        the valid ones are committed (an invalid one is refused alone)."""
        batch = pb.FeedbackBatch(events=[as_event(e) for e in events])
        result: pb.FeedbackBatchResult = await self._unary(self.stub.RecordFeedbackBatch, batch)
        return result

    async def stream_feedback(
        self, events: Iterable[EventLike] | AsyncIterable[EventLike]
    ) -> pb.StreamFeedbackResponse:
        """Bulk ingest in one call (one transaction on the daemon: all stored, or none).

        Events are converted as they are sent; one that cannot be converted raises
        ``ValueError`` after cancelling the call, so nothing is stored.
        """
        # Written by hand rather than handing grpc an iterator: grpc.aio turns an exception
        # from a request iterator into a bare CancelledError, which must not escape to callers.
        call = self.stub.StreamFeedback(
            None, timeout=self.connection.timeout, metadata=self.connection.metadata
        )
        try:
            if isinstance(events, AsyncIterable):
                async for item in events:
                    await call.write(as_event(item))
            else:
                for item in events:
                    await call.write(as_event(item))
            await call.done_writing()
            return await call
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        except BaseException:
            call.cancel()
            raise

    # ------------------------------------------------------------------ serving

    async def fetch_prompt(self, user_id: str, program: str) -> pb.Prompt:
        """Ask the daemon now, bypassing (but updating) the cache."""
        started = self.cache.clock()
        prompt = await self._unary(self.stub.GetPrompt, requests.get_prompt(user_id, program))
        self.cache.store(prompt, fetched_at=started)
        return prompt

    async def get_prompt(
        self, user_id: str, program: str, *, fallback: Fallback | None = None
    ) -> pb.Prompt:
        """The served prompt through the stale-while-revalidate cache.

        With a ``fallback`` this never raises when the daemon is unreachable: it answers with the
        last prompt the daemon sent, else the fallback (with an empty ``candidate_id``).
        """
        request = requests.get_prompt(user_id, program)
        stub = self.stub
        return await self.cache.aget(
            user_id,
            program,
            lambda: self._unary(stub.GetPrompt, request),
            spawn=self._spawn,
            fallback=fallback,
        )

    async def prompt_text(
        self, user_id: str, program: str, fallback: str, *, component: str = "system"
    ) -> str:
        """The text of one component of the user's prompt: the common case in one call.

        Never raises: ``fallback`` is the answer whenever no personalized prompt can be served
        (the daemon unreachable with nothing cached, the program not registered, the component
        missing, a token refused), each logged as a warning. ``get_prompt`` returns the
        whole message (every component, the candidate id to attribute feedback to, the version).
        """
        try:
            prompt = await self.get_prompt(user_id, program, fallback={component: fallback})
        except GepadError as exc:
            return text_or_fallback(None, component, fallback, exc)
        return text_or_fallback(prompt, component, fallback)

    async def watch_prompt(
        self, user_id: str, program: str, *, reconnect: bool = True
    ) -> AsyncGenerator[pb.Prompt, None]:
        """As ``Client.watch_prompt``: the served prompt now, then each change, reconnecting
        after the daemon went away unless ``reconnect=False``."""
        request = requests.watch_prompt(user_id, program)
        watch = PromptWatch(self.cache, reconnect)
        while True:
            call = self.stub.WatchPrompt(request, metadata=self.connection.metadata)
            try:
                async for prompt in call:
                    if watch.receive(prompt):
                        yield prompt
            except grpc.RpcError as exc:
                watch.lost(exc)
            finally:
                call.cancel()
            if not reconnect:
                return
            watch.ended()
            await anyio.sleep(watch.backoff.next())

    # ------------------------------------------------------------------ lineage

    async def list_lineage(self, user_id: str, program: str) -> pb.ListLineageResponse:
        return await self._unary(self.stub.ListLineage, requests.list_lineage(user_id, program))

    async def rollback(
        self, user_id: str, program: str, candidate_id: str, *, note: str = ""
    ) -> pb.Prompt:
        """Serve an earlier candidate and pin it."""
        request = requests.rollback(user_id, program, candidate_id, note)
        prompt = await self._unary(self.stub.Rollback, request)
        self.cache.store(prompt)
        return prompt

    async def unpin(self, user_id: str, program: str) -> pb.Prompt:
        prompt = await self._unary(self.stub.Unpin, requests.unpin(user_id, program))
        self.cache.store(prompt)
        return prompt

    # ------------------------------------------------------------------ evolution

    async def evolve(
        self,
        user_id: str,
        program: str,
        *,
        max_iterations: int = 0,
        budget: pb.Budget | None = None,
        seed: int = 0,
    ) -> pb.EvolveResponse:
        request = requests.evolve(user_id, program, max_iterations, budget, seed)
        return await self._unary(self.stub.Evolve, request)

    async def get_run(self, run_id: str) -> pb.Run:
        return await self._unary(self.stub.GetRun, requests.get_run(run_id))

    async def list_runs(self, user_id: str, program: str, *, limit: int = 0) -> pb.ListRunsResponse:
        request = requests.list_runs(user_id, program, limit)
        return await self._unary(self.stub.ListRuns, request)

    async def watch_run(self, run_id: str) -> AsyncGenerator[pb.RunProgress, None]:
        """Progress events of one run until it finishes."""
        call = self.stub.WatchRun(requests.watch_run(run_id), metadata=self.connection.metadata)
        try:
            async for progress in call:
                yield progress
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from exc
        finally:
            call.cancel()

    async def get_frontier(self, user_id: str, program: str) -> pb.GetFrontierResponse:
        request = requests.get_frontier(user_id, program)
        return await self._unary(self.stub.GetFrontier, request)

    async def get_rubric(self, user_id: str, program: str) -> pb.Rubric:
        """What the user asked for across all their feedback, as the judge grades it."""
        return await self._unary(self.stub.GetRubric, requests.get_rubric(user_id, program))

    async def list_evaluators(self, user_id: str, program: str) -> pb.ListEvaluatorsResponse:
        """The user's evaluators, their calibration and status, and the eval coverage."""
        return await self._unary(self.stub.ListEvaluators,
                                 requests.list_evaluators(user_id, program))

    async def list_adapters(self) -> pb.ListAdaptersResponse:
        """Admin: each adapter target, what it last delivered and its last error."""
        return await self._unary(self.stub.ListAdapters, requests.list_adapters())
