"""LLM access for gepad: one seam (`LLMClient`), litellm behind it, nothing else imports litellm.

`LiteLLMClient` lives in `gepad.llm.litellm_client` and is imported lazily here so that merely
importing `gepad.llm` does not import litellm (slow, and it must see LITELLM_LOCAL_MODEL_COST_MAP).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client import Completion, LLMClient, LLMError
from .runner import ChatTaskRunner, LLMReflection, system_prompt
from .scripted import ScriptedLLM
from .settings import ModelSettings

if TYPE_CHECKING:
    from .litellm_client import LiteLLMClient

__all__ = [
    "ChatTaskRunner",
    "Completion",
    "LLMClient",
    "LLMError",
    "LLMReflection",
    "LiteLLMClient",
    "ModelSettings",
    "ScriptedLLM",
    "system_prompt",
]


def __getattr__(name: str) -> Any:
    if name == "LiteLLMClient":
        from .litellm_client import LiteLLMClient

        return LiteLLMClient
    raise AttributeError(name)
