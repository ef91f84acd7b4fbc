"""What became of the agent's file edits: kept, undone or rewritten by the person, read from
the files as they are when the person writes next; and the verdict that gives the turn."""

from __future__ import annotations

from pathlib import Path

from gepad.hooks.classify import Verdict
from gepad.hooks.file_edits import MAX_TEXT, FileEdit, edits_from_tool_use, fate_of
from gepad.hooks.turns import Exchange, judge

OLD = "    return datetime.strptime(text, '%Y-%m-%d')\n"
NEW = "    return clamp(text)\n"


def test_tool_calls_name_their_edits_and_nothing_else() -> None:
    assert edits_from_tool_use("Edit", {"file_path": "/r/a.py", "old_string": OLD,
                                        "new_string": NEW}) == [FileEdit("/r/a.py", OLD, NEW)]
    assert edits_from_tool_use("MultiEdit", {"file_path": "b.py", "edits": [
        {"old_string": "x = 1", "new_string": "x = 2"}, "junk",
        {"old_string": "y", "new_string": "y"},  # no change: nothing to judge
    ]}, cwd="/r") == [FileEdit("/r/b.py", "x = 1", "x = 2")]
    assert edits_from_tool_use("Write", {"file_path": "/r/c.py", "content": "print(1)\n"}) == [
        FileEdit("/r/c.py", "", "print(1)\n")]
    assert edits_from_tool_use("Read", {"file_path": "/r/a.py"}) == []
    assert edits_from_tool_use("Edit", {"file_path": 3, "old_string": "a",
                                        "new_string": "b"}) == []
    assert edits_from_tool_use("Edit", {"file_path": "/r/a.py", "old_string": "",
                                        "new_string": "   "}) == []  # a deletion: no text to find
    assert edits_from_tool_use("Write", {"file_path": "/r/big", "content": "x" * (MAX_TEXT + 1)
                                         }) == []
    assert edits_from_tool_use("Edit", None) == []


def test_each_edit_is_kept_undone_or_rewritten_by_what_the_file_holds_now(
        tmp_path: Path) -> None:
    kept, undone, rewritten = tmp_path / "kept.py", tmp_path / "undone.py", tmp_path / "mine.py"
    kept.write_text("def f():\n" + NEW)
    undone.write_text("def f():\n" + OLD)
    rewritten.write_text("def f():\n    raise ValueError(text)\n")
    edits = [FileEdit(str(p), OLD, NEW) for p in (kept, undone, rewritten)]
    edits.append(FileEdit(str(tmp_path / "written.py"), "", "print(1)\n"))  # deleted since
    fate = fate_of(edits)
    assert (fate.kept, fate.reverted, fate.rewritten) == (
        1, (str(undone), str(tmp_path / "written.py")), (str(rewritten),))
    assert fate.signal == "rewritten"
    assert fate.comment(str(tmp_path)) == ("the person undid the agent's edits of undone.py, "
                                           "written.py; the person rewrote the agent's edits "
                                           "of mine.py")
    assert fate_of(edits[:1]).signal is None
    assert fate_of(edits[1:2]).signal == "reverted"


def test_a_file_that_cannot_be_read_says_nothing() -> None:
    def unreadable(path: str) -> str | None:
        raise PermissionError(path)

    fate = fate_of([FileEdit("/r/a.py", OLD, NEW)], unreadable)
    assert (fate.kept, fate.reverted, fate.rewritten, fate.signal) == (0, (), (), None)


def judged(prompt: str, holds: str) -> tuple[Verdict, str] | None:
    exchange = Exchange("t1", "fix parse_date", "I clamp the day now.",
                        (FileEdit("/r/dates.py", OLD, NEW),))
    return judge(exchange, prompt, cwd="/r", read=lambda path: holds)


def test_undone_files_make_a_moving_on_or_approving_prompt_a_rejection() -> None:
    assert judged("Now add a test for leap years", OLD) == (
        Verdict("rejection", "reverted"), "the person undid the agent's edits of dates.py")
    assert judged("thanks!", "    raise ValueError(text)\n") == (
        Verdict("rejection", "rewritten"), "the person rewrote the agent's edits of dates.py")
    # Kept: the prompt decides, and a moving-on prompt is no comment.
    assert judged("Now add a test for leap years", NEW) == (Verdict("acceptance", "moved_on"),
                                                           "")


def test_a_rejecting_prompt_keeps_its_words_and_adds_what_happened_to_the_files() -> None:
    assert judged("No, an invalid date must raise.", OLD) == (
        Verdict("rejection", "negative"),
        "No, an invalid date must raise.\n(the person undid the agent's edits of dates.py)")
    assert judged("/clear", OLD) is None
