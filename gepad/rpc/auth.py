"""Who is calling: the Unix socket's owner, or the holder of a bearer token over TCP.

The socket is mode 0600 in a 0700 directory, so reaching it already proves the caller is the
daemon's own user, who is admin. Over TCP nothing is trusted without a token, and a user's token
reaches only that user's data.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from gepad.errors import PermissionDenied, Unauthenticated
from gepad.settings import TokenGrant, hash_token

__all__ = ["Authenticator", "Principal"]


@dataclass(frozen=True, slots=True)
class Principal:
    user: str | None  # None: admin

    @property
    def actor(self) -> str:
        return "admin" if self.user is None else f"user:{self.user}"

    def require_user(self, user_id: str) -> None:
        if not self.can_reach(user_id):
            raise PermissionDenied(
                f"this token is scoped to user {self.user!r} and cannot reach user {user_id!r}"
            )

    def can_reach(self, user_id: str) -> bool:
        return self.user is None or self.user == user_id

    def require_admin(self, what: str) -> None:
        if self.user is not None:
            raise PermissionDenied(f"{what} needs an admin token")


ADMIN = Principal(None)


class Authenticator:
    def __init__(self, grants: Sequence[TokenGrant]) -> None:
        self._grants = tuple(grants)

    def principal(self, context: grpc.aio.ServicerContext[object, object]) -> Principal:
        if context.peer().startswith("unix:"):
            return ADMIN
        token = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                text = value.decode() if isinstance(value, bytes) else value
                scheme, _, token = text.partition(" ")
                if scheme.lower() != "bearer" or not token:
                    raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
        if token is None:
            raise Unauthenticated("TCP connections need 'authorization: Bearer <token>' metadata")
        digest = hash_token(token.strip())
        for grant in self._grants:
            if hmac.compare_digest(grant.sha256, digest):
                return Principal(grant.user)
        raise Unauthenticated("unknown token")
