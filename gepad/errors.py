"""What can go wrong with a request, in gepad's own terms.

Every part raises these; only the transport knows how a client sees them (`rpc/status.py` maps
each to a gRPC status). The message is written for the caller: it says what is wrong.
"""

from __future__ import annotations

__all__ = [
    "FailedPrecondition",
    "GepadError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
]


class GepadError(Exception):
    """A request gepad cannot carry out; nothing was changed."""


class InvalidArgument(GepadError):
    """A request field is missing or wrong."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why


class NotFound(GepadError):
    """The program, user, candidate or run named does not exist."""


class FailedPrecondition(GepadError):
    """The request is well formed but cannot be carried out in the current state."""


class Unauthenticated(GepadError):
    """No credentials, or credentials gepad does not know."""


class PermissionDenied(GepadError):
    """Known credentials that do not reach this data."""


class Unimplemented(GepadError):
    """A capability this daemon was started without."""


class Unavailable(GepadError):
    """gepad cannot take the request now (shutting down); trying again later may work."""


class ResourceExhausted(GepadError):
    """A limit on what the daemon holds or stores is reached (bytes in flight, a full disk);
    trying again later, or with less, may work. The message names the limit."""
