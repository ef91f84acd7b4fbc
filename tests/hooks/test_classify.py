"""The fixed rules that read a person's next prompt as a verdict on the agent's last answer."""

from __future__ import annotations

import pytest

from gepad.hooks import Verdict, classify


@pytest.mark.parametrize(
    ("prompt", "kind", "signal"),
    [
        ("No, that's wrong: the test still fails", "rejection", "negative"),
        ("nope", "rejection", "negative"),
        ("Please revert the change to dates.py", "rejection", "negative"),
        ("undo that", "rejection", "negative"),
        ("This is not what I asked for.", "rejection", "negative"),
        ("The build doesn\u2019t work anymore", "rejection", "negative"),
        ("Actually, use pathlib instead of os.path", "rejection", "change_request"),
        ("Make it shorter", "rejection", "change_request"),
        ("don't add comments to every line", "rejection", "change_request"),
        ("ok, but use tabs", "rejection", "change_request"),
        ("Thanks! Looks good", "acceptance", "approval"),
        ("lgtm", "acceptance", "approval"),
        ("Now add tests for the leap years", "acceptance", "moved_on"),
        ("Next: write the changelog entry", "acceptance", "moved_on"),
        ("Notice the new module? Document it", "acceptance", "moved_on"),
    ],
)
def test_prompts_read_as_verdicts(prompt: str, kind: str, signal: str) -> None:
    assert classify(prompt) == Verdict(kind, signal)  # type: ignore[arg-type]


@pytest.mark.parametrize("prompt", ["", "   ", "/clear", "/compact keep the tests"])
def test_prompts_that_say_nothing_about_the_answer(prompt: str) -> None:
    assert classify(prompt) is None


def test_only_the_opening_of_a_long_prompt_is_read() -> None:
    # A pasted log that happens to say "revert" far down is not the person saying it.
    log = "Here is the CI output:\n" + "ok line\n" * 100 + "git revert failed\n"
    assert classify(log) == Verdict("acceptance", "moved_on")
