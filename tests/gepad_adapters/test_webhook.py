"""The webhook adapter against a real HTTP server on loopback that checks the signature with its
own code; the transport seam for what a receiver cannot see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from gepad.adapters import AdapterSetup, Delivery
from gepad.settings import ConfigError
from gepad_adapters.http import HttpResponse, MemoryTransport
from gepad_adapters.webhook import WebhookAdapter, WebhookError, sign, verify_signature
from tests.gepad_adapters.receiver import Receiver

pytestmark = pytest.mark.anyio

SECRET = b"a shared secret"


def delivery(version: int = 3) -> Delivery:
    return Delivery("bot-hook", "alice", "support-bot", "c3", version, {"system": "Be kind."},
                    True, 1700000000.5)


def setup(env: dict[str, str] | None = None, **options: Any) -> AdapterSetup:
    table = {"url": "http://127.0.0.1:9/x", "secret_env": "HOOK_SECRET", **options}
    table = {k: v for k, v in table.items() if v is not None}
    return AdapterSetup(index=1, name="bot-hook", plugin="webhook", user_id=None,
                        program="support-bot", options=table,
                        env={"HOOK_SECRET": SECRET.decode()} if env is None else env)


async def test_a_receiver_gets_the_prompt_signed_with_its_idempotency_key() -> None:
    with Receiver(SECRET) as receiver:
        adapter = WebhookAdapter(setup(url=receiver.url))
        await adapter.deliver(delivery())
        (got,) = await anyio.to_thread.run_sync(receiver.wait_for, 1)
    assert got.signed
    assert got.idempotency_key == "c3:3"
    assert got.body == {
        "api_version": 1, "target": "bot-hook", "user_id": "alice", "program": "support-bot",
        "candidate_id": "c3", "version": 3, "idempotency_key": "c3:3",
        "components": {"system": "Be kind."}, "pinned": True, "updated_at": 1700000000.5,
    }


async def test_a_receiver_signed_with_another_secret_sees_a_bad_signature() -> None:
    with Receiver(b"another secret") as receiver:
        await WebhookAdapter(setup(url=receiver.url)).deliver(delivery())
        (got,) = await anyio.to_thread.run_sync(receiver.wait_for, 1)
    assert not got.signed


async def test_an_answer_other_than_2xx_is_a_failure_with_what_the_receiver_said() -> None:
    with Receiver(SECRET) as receiver:
        receiver.statuses = [503, 302]
        adapter = WebhookAdapter(setup(url=receiver.url))
        with pytest.raises(WebhookError, match=r"answered 503: not now$"):
            await adapter.deliver(delivery())
        # A redirect is not followed: a signed prompt goes only where it was configured to go.
        with pytest.raises(WebhookError, match=r"answered 302"):
            await adapter.deliver(delivery())
        await adapter.deliver(delivery())
        assert len(await anyio.to_thread.run_sync(receiver.wait_for, 1)) == 1


async def test_no_receiver_at_all_is_an_os_error() -> None:
    with Receiver(SECRET) as receiver:
        url = receiver.url
    with pytest.raises(OSError):
        await WebhookAdapter(setup(url=url)).deliver(delivery())


async def test_each_try_is_signed_anew_with_the_same_idempotency_key() -> None:
    now = [1000.0]
    transport = MemoryTransport([HttpResponse(500)])
    adapter = WebhookAdapter(setup(), transport=transport, clock=lambda: now[0])
    with pytest.raises(WebhookError):
        await adapter.deliver(delivery())
    now[0] = 1600.0
    await adapter.deliver(delivery())
    (_, body1, first), (_, body2, second) = transport.posts
    assert body1 == body2
    assert (first["X-Gepad-Timestamp"], second["X-Gepad-Timestamp"]) == ("1000", "1600")
    assert first["Idempotency-Key"] == second["Idempotency-Key"] == "c3:3"
    assert second["X-Gepad-Signature"] == sign(SECRET, "1600", body2)
    assert first["X-Gepad-Signature"] != second["X-Gepad-Signature"]


def test_verify_signature_checks_the_secret_the_body_and_the_replay_window() -> None:
    body = b'{"version": 3}'
    signature = sign(SECRET, "1000", body)
    assert verify_signature(SECRET, body, "1000", signature, now=1200)
    assert not verify_signature(SECRET, body, "1000", signature, now=1301)  # replayed too late
    assert not verify_signature(SECRET, body + b" ", "1000", signature, now=1000)
    assert not verify_signature(b"other", body, "1000", signature, now=1000)
    assert not verify_signature(SECRET, body, "1001", signature, now=1000)
    assert not verify_signature(SECRET, body, "soon", signature, now=1000)


def test_the_secret_comes_from_a_credential_file_too(tmp_path: Path) -> None:
    (tmp_path / "hook").write_bytes(SECRET + b"\n")
    transport = MemoryTransport()
    adapter = WebhookAdapter(setup({"CREDENTIALS_DIRECTORY": str(tmp_path)},
                                   secret_env=None, secret_credential="hook"),
                             transport=transport, clock=lambda: 50.0)
    anyio.run(adapter.deliver, delivery())
    ((_, body, headers),) = transport.posts
    assert headers["X-Gepad-Signature"] == sign(SECRET, "50", body)


@pytest.mark.parametrize(("options", "env", "message"), [
    ({"url": "ftp://x"}, None, r"^adapters\[1\]\.url: expected an http:// or https:// URL"),
    ({"url": None}, None, r"^adapters\[1\]\.url: is required"),
    ({"secret": "inline"}, None, r"^adapters\[1\]\.secret: secrets are never read from"),
    ({}, {}, r"^adapters\[1\]\.secret_env: the environment variable HOOK_SECRET is not set"),
])
def test_a_table_the_webhook_cannot_use_is_refused_naming_the_key(
    options: dict[str, Any], env: dict[str, str] | None, message: str,
) -> None:
    with pytest.raises(ConfigError, match=message):
        WebhookAdapter(setup(env, **options))
