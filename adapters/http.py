"""The HTTP seam of the webhook adapter: one POST, its status and body. `UrllibTransport` is the
standard library's client in a worker thread (no dependency for a handful of requests a day);
`MemoryTransport` answers from a script, for tests."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import anyio

__all__ = ["HttpResponse", "HttpTransport", "MemoryTransport", "UrllibTransport"]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""


class HttpTransport(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str],
                   socket_timeout: float) -> HttpResponse:
        """The receiver's answer, whatever its status; raises OSError when there is none.
        ``socket_timeout`` bounds each wait on the network (the client runs in a thread, which
        a cancel scope cannot interrupt)."""
        ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A signed prompt goes where it was configured to go, not where a redirect points.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class UrllibTransport:
    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(_NoRedirects())

    def _post(self, url: str, body: bytes, headers: Mapping[str, str],
              socket_timeout: float) -> HttpResponse:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with self._opener.open(request, timeout=socket_timeout) as response:
                return HttpResponse(response.status, response.read(4096))
        except urllib.error.HTTPError as exc:
            with exc:
                return HttpResponse(exc.code, exc.read(4096))

    async def post(self, url: str, body: bytes, headers: Mapping[str, str],
                   socket_timeout: float) -> HttpResponse:
        return await anyio.to_thread.run_sync(self._post, url, body, headers,
                                             socket_timeout)


@dataclass
class MemoryTransport:
    """Answers each POST with the next of ``answers`` (200 once they run out) and keeps it."""

    answers: list[HttpResponse | OSError] = field(default_factory=list)
    posts: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)

    async def post(self, url: str, body: bytes, headers: Mapping[str, str],
                   socket_timeout: float) -> HttpResponse:
        self.posts.append((url, body, dict(headers)))
        answer = self.answers.pop(0) if self.answers else HttpResponse(200)
        if isinstance(answer, OSError):
            raise answer
        return answer
