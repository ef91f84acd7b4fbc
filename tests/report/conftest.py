from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.openai_server import OpenAIDouble


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIDouble]:
    monkeypatch.setenv("GEPAD_TEST_KEY", "not-a-real-key")
    with OpenAIDouble() as server:
        yield server
