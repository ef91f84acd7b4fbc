"""LangChain: a ``ChatPromptTemplate`` whose system message is the user's served prompt, and a
one-liner that records feedback on what a chain produced. Needs ``langchain-core`` (the
``langchain`` extra), imported only when these are called.

    served = ServedPrompt(client, "support-bot", fallback="You are a helpful assistant.")
    chain = chat_prompt(served, "alice", ("human", "{question}")) | model
    reply = chain.invoke({"question": "Where is my order?"})
    record_feedback(served, "alice", "rejection", input=..., output=reply, comment="too long")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gepad.client.events import FeedbackKindLike
from gepad.integrations.served import ServedPrompt
from gepad.v1 import gepad_pb2 as pb

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.prompt_values import PromptValue
    from langchain_core.prompts import ChatPromptTemplate

__all__ = ["SYSTEM_VARIABLE", "chat_prompt", "record_feedback"]

# The template variable that holds the served prompt; filled by the template itself.
SYSTEM_VARIABLE = "gepad_system_prompt"

# LangChain's message types -> the chat roles gepad stores.
_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def chat_prompt(served: ServedPrompt, user_id: str, *messages: Any) -> ChatPromptTemplate:
    """The served prompt as the system message, then ``messages`` (anything
    ``ChatPromptTemplate.from_messages`` takes; default ``("human", "{input}")``).

    The prompt is read each time the template is formatted, through the client's cache, so a
    long-lived chain picks up a hot-swap within the cache's ``max_age``. It is inserted as a
    value, never parsed as a template: braces in it stay braces."""
    from langchain_core.prompts import ChatPromptTemplate

    template = ChatPromptTemplate.from_messages(
        [("system", f"{{{SYSTEM_VARIABLE}}}"), *(messages or [("human", "{input}")])])
    return template.partial(**{SYSTEM_VARIABLE: lambda: served.text(user_id)})


def _as_input(value: PromptValue | Sequence[BaseMessage] | str) -> str | list[dict[str, str]]:
    from langchain_core.prompt_values import PromptValue

    if isinstance(value, str):
        return value
    messages = value.to_messages() if isinstance(value, PromptValue) else list(value)
    # The system message is the served prompt itself: the example is what the user asked.
    return [{"role": _ROLES.get(m.type, "user"), "content": m.text}
            for m in messages if m.type != "system"]


def record_feedback(
    served: ServedPrompt,
    user_id: str,
    kind: FeedbackKindLike,
    *,
    input: PromptValue | Sequence[BaseMessage] | str | None = None,
    output: BaseMessage | str = "",
    **fields: Any,
) -> pb.RecordFeedbackResponse:
    """Record feedback on a chain's reply: ``input`` as the formatted prompt (a
    ``PromptValue``), its messages, or the user's text; ``output`` as the model's message or its
    text; other keywords as ``gepad.client.feedback_event``'s."""
    if input is not None:
        fields["input"] = _as_input(input)
    text = output if isinstance(output, str) else output.text
    return served.record_feedback(user_id, kind, output=text, **fields)
