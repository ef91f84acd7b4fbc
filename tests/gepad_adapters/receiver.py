"""A webhook receiver on loopback for tests: checks each POST's signature with its own HMAC code
(not gepad's), keeps what it was sent, and answers with a scripted status."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WINDOW_SECONDS = 300


@dataclass(frozen=True)
class Received:
    body: dict[str, Any]
    idempotency_key: str
    signed: bool  # the signature is right and the timestamp within the window


class Receiver:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.received: list[Received] = []
        self.statuses: list[int] = []  # answers for the next posts; 204 when empty
        self.posted = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers.get("X-Gepad-Timestamp", "")
                expected = "sha256=" + hmac.new(receiver.secret, f"{stamp}.".encode() + raw,
                                                hashlib.sha256).hexdigest()
                signed = (hmac.compare_digest(expected, self.headers.get("X-Gepad-Signature", ""))
                          and stamp.isdigit() and abs(time.time() - int(stamp)) <= WINDOW_SECONDS)
                with receiver.posted:
                    status = receiver.statuses.pop(0) if receiver.statuses else 204
                    if 200 <= status < 300:
                        receiver.received.append(Received(
                            json.loads(raw), self.headers.get("Idempotency-Key", ""), signed))
                    receiver.posted.notify_all()
                self.send_response(status)
                body = b"" if status < 300 else b"not now"
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/gepad"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        with self.posted:
            if not self.posted.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"{len(self.received)} of {count} posts received")
            return list(self.received)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
