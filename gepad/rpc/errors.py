"""Errors a handler raises, each carrying the gRPC status the client will see."""

from __future__ import annotations

import grpc

__all__ = [
    "FailedPrecondition",
    "NotFound",
    "PermissionDenied",
    "RpcError",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
]


class RpcError(Exception):
    code = grpc.StatusCode.INTERNAL


class NotFound(RpcError):
    code = grpc.StatusCode.NOT_FOUND


class PermissionDenied(RpcError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(RpcError):
    code = grpc.StatusCode.UNAUTHENTICATED


class FailedPrecondition(RpcError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unimplemented(RpcError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Unavailable(RpcError):
    code = grpc.StatusCode.UNAVAILABLE
