"""LiteLLMClient through real litellm code: mock_response and a custom provider. No network."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import litellm
import pytest
from litellm import CustomLLM

from gepad.engine import ChatMessage
from gepad.llm import LLMError, ModelSettings
from gepad.llm.litellm_client import LiteLLMClient
from tests.doubles.openai_server import OpenAIDouble

pytestmark = pytest.mark.anyio
HI = [ChatMessage("user", "hi")]


class Provider(CustomLLM):
    """A litellm custom provider: fails transiently `fail` times, then answers."""

    def __init__(self, fail: int = 0, error: type[Exception] = litellm.RateLimitError) -> None:
        super().__init__()
        self.fail = fail
        self.error = error
        self.calls: list[dict[str, Any]] = []

    async def acompletion(self, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        self.calls.append(kwargs)
        if len(self.calls) <= self.fail:
            raise self.error(message="try later", llm_provider="gepadtest", model="echo")  # type: ignore[call-arg]
        last = kwargs["messages"][-1]["content"]
        message = {"role": "assistant", "content": f"echo:{last}"}
        return litellm.ModelResponse(
            choices=[{"message": message, "finish_reason": "length"}],
            usage={"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10},
            model="gepadtest/echo",
        )


@pytest.fixture
def provider() -> Any:
    def install(p: Provider) -> Provider:
        litellm.custom_provider_map = [{"provider": "gepadtest", "custom_handler": p}]
        litellm.utils.custom_llm_setup()
        return p

    yield install
    litellm.custom_provider_map = []


async def test_mock_response_goes_through_litellm_with_tokens_and_cost() -> None:
    client = LiteLLMClient(
        ModelSettings("openai/gpt-4o-mini", params={"temperature": 0}),
        extra={"mock_response": "hello there"},
    )
    c = await client.complete(HI)
    assert c.text == "hello there" and c.finish_reason == "stop"
    assert c.usage.tokens == 30 and c.usage.calls == 1
    assert c.usage.cost_usd > 0  # gpt-4o-mini has a price in litellm's local map


async def test_transient_errors_are_retried_with_backoff(provider: Any) -> None:
    p = provider(Provider(fail=2))
    delays: list[float] = []

    async def sleep(d: float) -> None:
        delays.append(d)

    client = LiteLLMClient(ModelSettings("gepadtest/echo", retries=3, backoff_s=1.0), sleep=sleep)
    c = await client.complete(HI)
    assert c.text == "echo:hi" and c.finish_reason == "length"
    assert len(p.calls) == 3 and len(delays) == 2
    assert 0 <= delays[0] <= 1.0 and 0 <= delays[1] <= 2.0
    assert c.usage.calls == 3 and c.usage.tokens == 10
    assert c.usage.cost_usd == 0.0  # unknown model price: 0, not a guess


async def test_retries_are_bounded_and_counted(provider: Any) -> None:
    provider(Provider(fail=10))

    async def sleep(d: float) -> None:
        return None

    client = LiteLLMClient(ModelSettings("gepadtest/echo", retries=2), sleep=sleep)
    with pytest.raises(LLMError) as info:
        await client.complete(HI)
    assert info.value.transient and info.value.usage.calls == 3


async def test_non_transient_errors_are_not_retried(provider: Any) -> None:
    p = provider(Provider(fail=10, error=litellm.BadRequestError))
    client = LiteLLMClient(ModelSettings("gepadtest/echo", retries=5))
    with pytest.raises(LLMError) as info:
        await client.complete(HI)
    assert not info.value.transient and len(p.calls) == 1


async def test_api_key_is_read_from_the_named_variable_at_call_time(
    provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = provider(Provider())
    client = LiteLLMClient(ModelSettings("gepadtest/echo", api_key_env="GEPAD_TEST_KEY"))
    monkeypatch.delenv("GEPAD_TEST_KEY", raising=False)
    with pytest.raises(LLMError, match="GEPAD_TEST_KEY"):
        await client.complete(HI)
    monkeypatch.setenv("GEPAD_TEST_KEY", "rotated-key")
    await client.complete(HI)
    assert p.calls[-1]["api_key"] == "rotated-key"


def test_version_tracks_model_and_params_not_secrets() -> None:
    a = ModelSettings("openai/x", params={"temperature": 0}, api_key_env="A")
    b = ModelSettings("openai/x", params={"temperature": 0}, api_key_env="B", timeout_s=5)
    c = ModelSettings("openai/x", params={"temperature": 1})
    assert a.version == b.version != c.version


def test_importing_gepad_llm_does_not_import_litellm() -> None:
    code = "import sys, gepad.llm; assert 'litellm' not in sys.modules, 'litellm imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_a_rate_limited_call_waits_as_long_as_the_provider_asks() -> None:
    from tests.doubles.openai_server import OpenAIDouble

    delays: list[float] = []

    async def sleep(d: float) -> None:
        delays.append(d)

    with OpenAIDouble() as double:
        settings = ModelSettings("openai/task-double", api_base=double.api_base,
                                 params={"api_key": "x"}, retries=3, max_backoff_s=10)
        double.fail("task-double", 429, "slow down", times=2, retry_after=1.5)
        c = await LiteLLMClient(settings, sleep=sleep).complete(HI)
        assert c.text == "ok: hi" and c.usage.calls == 3
        assert delays == [1.5, 1.5]
        # Asked to wait longer than this model's longest backoff: give up, saying so.
        double.fail("task-double", 429, "slow down", times=1, retry_after=60)
        with pytest.raises(LLMError, match="asks to retry after 60 s") as info:
            await LiteLLMClient(settings, sleep=sleep).complete(HI)
        assert info.value.transient and len(delays) == 2


async def test_a_local_server_needs_no_key_and_never_gets_the_providers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An OpenAI-compatible server of one's own (Ollama, vLLM, llama.cpp): api_base, no key.
    with OpenAIDouble() as double:
        client = LiteLLMClient(ModelSettings("openai/task-double", api_base=double.api_base))
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        assert (await client.complete(HI)).text
        monkeypatch.setenv("OPENAI_API_KEY", "sk-the-real-openai-key")
        assert (await client.complete(HI)).text
    assert len(double.authorizations) == 2
    assert all("sk-the-real" not in (a or "") for a in double.authorizations)
