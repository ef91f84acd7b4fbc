"""Python clients for the gepad daemon: ``Client`` (blocking) and ``AsyncClient`` (asyncio)."""

from gepad.client.async_client import AsyncClient
from gepad.client.cache import CachedPrompt, Fallback, Freshness, PromptCache, fallback_prompt
from gepad.client.connection import DEFAULT_TIMEOUT, Connection, normalize_target
from gepad.client.events import FeedbackFields, event_from_mapping, feedback_event
from gepad.client.status_errors import (
    AlreadyExists,
    Cancelled,
    DeadlineExceeded,
    FailedPrecondition,
    GepadError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unreachable,
)
from gepad.client.sync_client import Client

__all__ = [
    "DEFAULT_TIMEOUT",
    "AlreadyExists",
    "AsyncClient",
    "CachedPrompt",
    "Cancelled",
    "Client",
    "Connection",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Fallback",
    "FeedbackFields",
    "Freshness",
    "GepadError",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "PromptCache",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unreachable",
    "event_from_mapping",
    "fallback_prompt",
    "feedback_event",
    "normalize_target",
]
