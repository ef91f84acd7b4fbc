"""The only module that imports litellm.

litellm fetches a remote price map at import time unless LITELLM_LOCAL_MODEL_COST_MAP is set, so
it is set (without overriding an explicit choice) before the import.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import litellm

from gepad.engine import ChatMessage, Usage

from .client import Completion, LLMError
from .settings import ModelSettings

# litellm prints a "Give Feedback / Get Help" banner to stdout on every failed call; the failure
# itself reaches the round's message and the daemon's log.
litellm.suppress_debug_info = True

# Worth retrying: the same request may succeed a moment later.
TRANSIENT: tuple[type[BaseException], ...] = (
    litellm.exceptions.RateLimitError,
    litellm.exceptions.APIConnectionError,  # includes litellm.Timeout
    litellm.exceptions.ServiceUnavailableError,
    litellm.exceptions.InternalServerError,
    litellm.exceptions.BadGatewayError,
    TimeoutError,
)

Sleep = Callable[[float], Awaitable[None]]
# What a keyless local server is sent as its key.
NO_KEY = "no-key"


def missing_credentials(settings: ModelSettings) -> str | None:
    """Why no call to this model can succeed before one is made: its key is not set. A model
    behind its own ``api_base`` (a local server) may need no key, so only the named variable is
    checked there; otherwise litellm knows which variables the provider reads."""
    if settings.api_key_env:
        if os.environ.get(settings.api_key_env):
            return None
        return f"environment variable {settings.api_key_env} is not set (model {settings.model})"
    if settings.api_base:
        return None
    try:
        missing = litellm.validate_environment(model=settings.model).get("missing_keys") or []
    except Exception:  # a model litellm cannot place: the call itself will say what is wrong
        return None
    # Only secrets: a missing OLLAMA_API_BASE, say, has a working default.
    keys = [k for k in missing if "KEY" in k or "TOKEN" in k]
    if not keys:
        return None
    verb = "is" if len(keys) == 1 else "are"
    return f"{' and '.join(keys)} {verb} not set (model {settings.model})"


class LiteLLMClient:
    """`litellm.acompletion` with a timeout, retries with exponential backoff and full jitter,
    and per-call tokens and cost (cost 0 when litellm does not know the model's price).

    `extra` is passed to litellm as is; tests use it for `mock_response`.
    """

    def __init__(
        self,
        settings: ModelSettings,
        *,
        sleep: Sleep = anyio.sleep,
        rng: random.Random | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._extra = dict(extra or {})

    @property
    def version(self) -> str:
        return self.settings.version

    def _kwargs(self, messages: Sequence[ChatMessage]) -> dict[str, Any]:
        s = self.settings
        kwargs: dict[str, Any] = dict(s.params)
        kwargs.update(
            model=s.model,
            messages=[{"role": m.role, "content": m.content} for m in messages],
            timeout=s.timeout_s,
            # Retries are ours (counted and budgeted), not litellm's or the SDK's.
            num_retries=0,
            max_retries=0,
        )
        if s.api_base:
            kwargs["api_base"] = s.api_base
        if s.api_key_env:
            # Read at call time so a rotated key is picked up without a restart.
            key = os.environ.get(s.api_key_env)
            if key is None:
                raise LLMError(f"environment variable {s.api_key_env} is not set")
            kwargs["api_key"] = key
        elif s.api_base:
            # A server of one's own (Ollama, vLLM, llama.cpp) that needs no key: without one,
            # litellm would refuse, or send that server the provider's key (OPENAI_API_KEY).
            kwargs["api_key"] = NO_KEY
        kwargs.update(self._extra)
        return kwargs

    async def complete(self, messages: Sequence[ChatMessage]) -> Completion:
        s = self.settings
        attempts = 0
        while True:
            attempts += 1
            kwargs = self._kwargs(messages)
            try:
                with anyio.fail_after(s.timeout_s + 5.0):
                    response = await litellm.acompletion(**kwargs)
            except TRANSIENT as exc:
                if attempts > s.retries:
                    raise LLMError(
                        f"{s.model}: giving up after {attempts} attempts: {exc}",
                        Usage(calls=attempts),
                        transient=True,
                    ) from exc
                asked = _retry_after(exc)
                if asked is not None and asked > s.max_backoff_s:
                    raise LLMError(
                        f"{s.model}: the provider asks to retry after {asked:g} s, longer than "
                        f"max_backoff_s ({s.max_backoff_s:g} s): {exc}",
                        Usage(calls=attempts),
                        transient=True,
                    ) from exc
                if asked is None:
                    delay = min(s.max_backoff_s, s.backoff_s * 2 ** (attempts - 1))
                    asked = self._rng.uniform(0, delay)
                await self._sleep(asked)
                continue
            except Exception as exc:
                message = f"{s.model}: {type(exc).__name__}: {exc}"
                raise LLMError(message, Usage(calls=attempts)) from exc
            return _completion(response, s.model, attempts)


def _retry_after(exc: BaseException) -> float | None:
    """The wait a rate-limited provider asked for (Retry-After in seconds), if it said."""
    for headers in (getattr(getattr(exc, "response", None), "headers", None),
                    getattr(exc, "litellm_response_headers", None)):
        value = headers.get("retry-after") if headers is not None else None
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            return None  # the HTTP-date form: rare from model providers; back off as usual
        return max(0.0, seconds)
    return None


def _completion(response: Any, model: str, attempts: int) -> Completion:
    choice = response.choices[0]
    text = getattr(choice.message, "content", None) or ""
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    total = int(getattr(usage, "total_tokens", 0) or 0) or prompt_tokens + completion_tokens
    return Completion(
        text=text,
        finish_reason=getattr(choice, "finish_reason", None),
        usage=Usage(tokens=total, cost_usd=_cost(response), calls=attempts),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        model=str(getattr(response, "model", "") or model),
    )


def _cost(response: Any) -> float:
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost")
    if cost is None:
        try:
            cost = litellm.completion_cost(completion_response=response)
        except Exception:
            # Unknown price (local models, custom providers): cost is unknown, not guessed.
            cost = 0.0
    try:
        value = float(cost)
    except (TypeError, ValueError):
        return 0.0
    return value if value >= 0 else 0.0
