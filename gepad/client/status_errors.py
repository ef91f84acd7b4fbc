"""gepad's error hierarchy: one exception class per gRPC status a caller may want to handle.

Every error carries the status code and the server's message, so a caller can branch on the class
(``except NotFound``) and still show the daemon's own words.
"""

from __future__ import annotations

import grpc

__all__ = [
    "AlreadyExists",
    "Cancelled",
    "DeadlineExceeded",
    "FailedPrecondition",
    "GepadError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unreachable",
    "from_rpc_error",
]


class GepadError(Exception):
    """A call to the daemon failed; ``code`` is the gRPC status, ``message`` the server's words."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    @property
    def status(self) -> str:
        """The status name as gRPC spells it, e.g. ``NOT_FOUND``."""
        return str(self.code.name)

    def __str__(self) -> str:
        return f"{self.status}: {self.message}" if self.message else self.status


class InvalidArgument(GepadError):
    """The request was malformed; the message names the offending field. Nothing was stored."""


class NotFound(GepadError):
    """The program, user, candidate or run does not exist."""


class AlreadyExists(GepadError):
    pass


class FailedPrecondition(GepadError):
    """The request is valid but the daemon's state does not allow it now."""


class PermissionDenied(GepadError):
    """The token is valid but not allowed to touch this user's data or to write programs."""


class Unauthenticated(GepadError):
    """No token, or a token the daemon does not know (TCP always requires one)."""


class ResourceExhausted(GepadError):
    """A message-size limit or a budget was hit."""


class Unimplemented(GepadError):
    """This daemon build does not implement the RPC (e.g. evolution before the engine is in)."""


class Cancelled(GepadError):
    pass


class Unreachable(GepadError):
    """The daemon did not answer: not running, or too slow for the deadline.

    This is the one family a caller can paper over with a cached or fallback prompt; the others
    are answers from a live daemon and mean the request itself needs fixing.
    """


class Unavailable(Unreachable):
    pass


class DeadlineExceeded(Unreachable):
    pass


_BY_CODE: dict[grpc.StatusCode, type[GepadError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.CANCELLED: Cancelled,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
}


def from_rpc_error(exc: grpc.RpcError) -> GepadError:
    """Translate a grpc (sync or aio) error into the matching ``GepadError``."""
    # Sync errors that never reached the wire (e.g. a closed channel) lack code()/details().
    code_fn = getattr(exc, "code", None)
    details_fn = getattr(exc, "details", None)
    code = code_fn() if callable(code_fn) else grpc.StatusCode.UNKNOWN
    if not isinstance(code, grpc.StatusCode):
        code = grpc.StatusCode.UNKNOWN
    message = (details_fn() if callable(details_fn) else None) or ""
    return _BY_CODE.get(code, GepadError)(code, str(message))
