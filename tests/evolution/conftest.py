from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.openai_server import OpenAIDouble


@pytest.fixture
def double_delay() -> float:
    """Seconds the test model takes per call; a module overrides it to interrupt rounds."""
    return 0.0


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch, double_delay: float) -> Iterator[OpenAIDouble]:
    monkeypatch.setenv("GEPAD_TEST_KEY", "not-a-real-key")
    with OpenAIDouble(delay=double_delay) as server:
        yield server
