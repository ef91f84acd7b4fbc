"""The demo's user: someone who wants every answer in one plain sentence, and says so in the
feedback they give on a chatty assistant's answers. Event ids are fixed, so a second demo
against the same state stores nothing twice."""

from __future__ import annotations

from typing import Any

__all__ = ["ANSWERS", "EDIT_SENTENCE", "FEEDBACK", "SEED", "chatty"]

SEED = "You are a helpful assistant. Answer the user's question."
# What the person adds when they edit the prompt in AGENTS.md by hand.
EDIT_SENTENCE = "When a command is involved, show it in backticks."

# Each question and the one-sentence answer this user wants.
ANSWERS: dict[str, str] = {
    "What is the capital of Australia?": "Canberra is the capital of Australia.",
    "How do I undo my last git commit?": "Run `git reset --soft HEAD~1` to undo it and keep "
                                         "the changes.",
    "What does HTTP status 404 mean?": "The server found nothing at that address.",
    "How many bytes are in a kilobyte?": "A kilobyte is 1,000 bytes (a kibibyte is 1,024).",
    "What is the boiling point of water at sea level?": "Water boils at 100 °C at sea level.",
    "How do I list hidden files in a terminal?": "Run `ls -a` to include hidden files.",
    "What is a Python virtual environment?": "It is a folder with its own Python and packages, "
                                             "separate from the system's.",
    "Who wrote Pride and Prejudice?": "Jane Austen wrote Pride and Prejudice.",
    "How do I find my IP address on Linux?": "Run `ip addr` and read the inet lines.",
    "What is the speed of light?": "About 299,792 kilometres per second in a vacuum.",
    "What does JSON stand for?": "JSON stands for JavaScript Object Notation.",
    "How long should I boil an egg?": "Boil it for about nine minutes for a firm yolk.",
    "What is the largest planet in the solar system?": "Jupiter is the largest planet.",
    "How do I exit vim?": "Press Esc, type `:q` and press Enter (`:q!` discards changes).",
    "What is the time zone of Tokyo?": "Tokyo uses Japan Standard Time, UTC+9.",
    "What is a prime number?": "A whole number above 1 divisible only by 1 and itself.",
}


def chatty(question: str) -> str:
    """How the assistant answers before it learns this user's taste: padded and long."""
    short = ANSWERS.get(question, "Here is the answer.")
    return (f"Great question! {short} There is a lot more to say about this topic, and "
            "I would be happy to go into more detail. Let me know if you have any other "
            "questions!")


def _event(n: int, kind: str, question: str, **fields: Any) -> dict[str, Any]:
    return {"event_id": f"demo-{kind}-{n}", "kind": kind, "input": question, **fields}


_Q = list(ANSWERS)
FEEDBACK: list[dict[str, Any]] = [
    _event(1, "rejection", _Q[0], output=chatty(_Q[0]), comment="Far too long: one sentence "
           "is enough."),
    _event(2, "correction", _Q[1], output=chatty(_Q[1]), correction=ANSWERS[_Q[1]],
           comment="Just the answer, no filler."),
    _event(3, "rejection", _Q[2], output=chatty(_Q[2]), comment="Skip the 'great question' "
           "and the offer to say more."),
    _event(4, "acceptance", _Q[3], output=ANSWERS[_Q[3]]),
    _event(5, "correction", _Q[4], output=chatty(_Q[4]), correction=ANSWERS[_Q[4]]),
    _event(6, "rating", _Q[5], output=chatty(_Q[5]), score=0.2, comment="Way too chatty."),
    _event(7, "rejection", _Q[6], output=chatty(_Q[6]), comment="I only need one sentence."),
    _event(8, "acceptance", _Q[7], output=ANSWERS[_Q[7]]),
    _event(9, "correction", _Q[8], output=chatty(_Q[8]), correction=ANSWERS[_Q[8]],
           comment="Shorter, please."),
    _event(10, "rejection", _Q[9], output=chatty(_Q[9]), comment="Too long again."),
    _event(11, "correction", _Q[10], output=chatty(_Q[10]), correction=ANSWERS[_Q[10]]),
    _event(12, "rating", _Q[11], output=chatty(_Q[11]), score=0.3, comment="Answer in one line."),
    _event(13, "rejection", _Q[12], output=chatty(_Q[12]), comment="Drop the small talk."),
    _event(14, "acceptance", _Q[13], output=ANSWERS[_Q[13]]),
    _event(15, "correction", _Q[14], output=chatty(_Q[14]), correction=ANSWERS[_Q[14]]),
    _event(16, "rejection", _Q[15], output=chatty(_Q[15]), comment="One sentence, please."),
]
