"""The webhook adapter, for chatbots: each new prompt POSTed as JSON (`Delivery.document`),
signed, with an idempotency key.

Headers: ``Idempotency-Key: <candidate_id>:<version>`` (the same on every retry of one version),
``X-Gepad-Timestamp: <unix seconds>`` and ``X-Gepad-Signature: sha256=<hex>``, the HMAC-SHA256
under the shared secret of ``<timestamp>.<body>``. A receiver checks the signature and that the
timestamp is within its replay window (`verify_signature` does both), and drops a key it has
seen. Any answer but 2xx is a failure the host retries with backoff; redirects are not followed.
The secret comes from the environment or a systemd credential, never from the config file.

    [[adapters]]
    plugin = "webhook"
    program = "support-bot"          # every user of it; add user = "..." for one
    url = "https://bot.example.com/gepad/prompt"
    secret_env = "GEPAD_WEBHOOK_SECRET"   # or secret_credential = "webhook-secret"
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from gepad.adapters.protocols import API_VERSION, AdapterSetup, Delivery

from .http import HttpTransport, UrllibTransport

__all__ = ["REPLAY_WINDOW_SECONDS", "WebhookAdapter", "WebhookError", "sign", "verify_signature"]

REPLAY_WINDOW_SECONDS = 300.0


class WebhookError(Exception):
    """The receiver did not take the prompt."""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Gepad-Signature`` value for this timestamp and body."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(secret: bytes, body: bytes, timestamp: str, signature: str, *,
                     now: float | None = None,
                     window: float = REPLAY_WINDOW_SECONDS) -> bool:
    """For receivers: the signature is gepad's and the timestamp within ``window`` of now."""
    try:
        age = abs((time.time() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= window and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookAdapter:
    api_version = API_VERSION

    def __init__(self, setup: AdapterSetup, *, transport: HttpTransport | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._url = setup.text("url")
        parts = urlsplit(self._url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise setup.error("url", f"expected an http:// or https:// URL, got {self._url!r}")
        self._secret = setup.secret("secret")
        self._timeout = setup.number("request_timeout_seconds", 10.0)
        self._transport = transport or UrllibTransport()
        self._clock = clock

    async def deliver(self, delivery: Delivery) -> None:
        body = delivery.to_json()
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "gepad-webhook/1",
            "Idempotency-Key": delivery.idempotency_key,
            "X-Gepad-Timestamp": timestamp,
            "X-Gepad-Signature": sign(self._secret, timestamp, body),
        }
        response = await self._transport.post(self._url, body, headers, self._timeout)
        if not 200 <= response.status < 300:
            said = response.body[:200].decode("utf-8", "replace").strip()
            raise WebhookError(f"{self._url} answered {response.status}"
                               + (f": {said}" if said else ""))
