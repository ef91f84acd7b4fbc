"""Registering the servicer with gRPC: every call authenticated and checked against its access
rule (`access.py`) before the servicer sees it, and two things grpcio does not do for us:

* A request that does not parse (invalid UTF-8 in a string field, say) is INVALID_ARGUMENT naming
  the message, not grpcio's INTERNAL "Exception deserializing request".
* Exceptions that mean "your request is wrong" become the right status and message; anything
  else is logged and answered INTERNAL without leaking internals.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from gepad.errors import InvalidArgument
from gepad.rpc.access import RULES, authorize
from gepad.rpc.auth import Authenticator, Principal
from gepad.rpc.status import status_of
from gepad.v1 import gepad_pb2 as pb

__all__ = ["generic_handler"]

log = logging.getLogger(__name__)
Context = grpc.aio.ServicerContext[Any, Any]


@dataclass(frozen=True, slots=True)
class _Undecodable:
    type_name: str
    reason: str


def _deserializer(cls: type[Message]) -> Callable[[bytes], Message | _Undecodable]:
    def parse(data: bytes) -> Message | _Undecodable:
        try:
            return cls.FromString(data)
        except DecodeError as exc:
            reason = "a string field holds invalid UTF-8" if "UTF-8" in str(exc) else str(exc)
            return _Undecodable(cls.DESCRIPTOR.full_name, reason)

    return parse


async def _fail(context: Context, exc: BaseException) -> None:
    status = status_of(exc)
    if status is not None:
        await context.abort(status, str(exc))
    log.exception("internal error", exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the gepad log")


def _check(request: object) -> None:
    if isinstance(request, _Undecodable):
        raise InvalidArgument(request.type_name, f"request does not parse: {request.reason}")


Call = Callable[[Any, Context], Any]


def _admit(rpc: str, auth: Authenticator, context: Context, request: object) -> Principal:
    """The authenticated caller, once the request parses and the RPC's access rule lets them in
    (a client stream's messages are checked as they arrive)."""
    caller = auth.principal(context)
    _check(request)
    authorize(rpc, caller, request)
    return caller


def _unary(name: str, method: Callable[..., Awaitable[Any]], auth: Authenticator) -> Call:
    async def handle(request: Any, context: Context) -> Any:
        try:
            return await method(request, _admit(name, auth, context, request))
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(context, exc)

    return handle


def _server_stream(
    name: str, method: Callable[..., AsyncIterator[Any]], auth: Authenticator
) -> Call:
    async def handle(request: Any, context: Context) -> AsyncIterator[Any]:
        try:
            async for item in method(request, _admit(name, auth, context, request)):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(context, exc)

    return handle


async def _checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """A request stream whose every message is checked as it is read."""
    async for item in requests:
        _check(item)
        yield item


def _client_stream(name: str, method: Callable[..., Awaitable[Any]], auth: Authenticator) -> Call:
    async def handle(requests: AsyncIterator[Any], context: Context) -> Any:
        try:
            return await method(_checked(requests), _admit(name, auth, context, None))
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(context, exc)

    return handle


def _bidi_stream(
    name: str, method: Callable[..., AsyncIterator[Any]], auth: Authenticator
) -> Call:
    async def handle(requests: AsyncIterator[Any], context: Context) -> AsyncIterator[Any]:
        try:
            async for item in method(_checked(requests), _admit(name, auth, context, None)):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await _fail(context, exc)

    return handle


def generic_handler(servicer: object, auth: Authenticator) -> grpc.GenericRpcHandler[Any, Any]:
    """One handler per method of gepad.v1.Gepad, taken from the proto descriptor so that a
    method added to the proto and not to the servicer, or without an access rule, fails loudly
    at start-up. Each handler authenticates the caller and applies the RPC's rule before the
    servicer method runs; the method gets the request and the caller's `Principal`."""
    service = pb.DESCRIPTOR.services_by_name["Gepad"]
    missing = [m.name for m in service.methods if m.name not in RULES]
    if missing:
        raise RuntimeError(f"no access rule for {', '.join(missing)} in gepad/rpc/access.py")
    handlers = {}
    for method in service.methods:
        impl = getattr(servicer, method.name)
        request_cls = pb.__dict__[method.input_type.name]
        response_cls = pb.__dict__[method.output_type.name]
        kwargs: dict[str, Any] = {
            "request_deserializer": _deserializer(request_cls),
            "response_serializer": response_cls.SerializeToString,
        }
        if method.client_streaming and method.server_streaming:
            handlers[method.name] = grpc.stream_stream_rpc_method_handler(
                _bidi_stream(method.name, impl, auth), **kwargs
            )
        elif method.client_streaming:
            handlers[method.name] = grpc.stream_unary_rpc_method_handler(
                _client_stream(method.name, impl, auth), **kwargs
            )
        elif method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                _server_stream(method.name, impl, auth), **kwargs
            )
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _unary(method.name, impl, auth), **kwargs
            )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)
