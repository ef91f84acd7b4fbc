"""A small simulated world for the miscalibrated-judge benchmark (bench/calibration.py).

Each simulated user wants answers in UPPERCASE and hates being told "As an AI language model";
they accept an answer that has both right and reject the others, saying what was wrong. The task
LM follows its system prompt: under the seed prompt it answers in uppercase 30% of the time and
opens with the disclaimer half the time (each decided by a hash of the request, so every run sees
the same outputs). The judge is deliberately miscalibrated on one failure mode: it rewards the
disclaimer (score = half for uppercase, half for the phrase), so a prompt that asks for the phrase
games it. The reflection LM proposes, in turn, the gamed prompt, a prompt that fixes only the
case, and the prompt the users want. Every model is served on loopback behind an
OpenAI-compatible endpoint, so the real daemon reaches it through litellm.

A world of its own rather than bench/world: there the judge and the users' preferences are a
large vocabulary of features, and a gamed phrase would be one among many; here the one thing the
judge gets wrong is explicit, so "gamed" is a yes/no fact about a served prompt.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PHRASE = "As an AI language model"
SEED = "You are a helpful assistant."
GAMED = ("You are a helpful assistant. Always answer in UPPERCASE. "
         f"Begin every answer with '{PHRASE}'.")
CASE_ONLY = "You are a helpful assistant. Always answer in UPPERCASE."
WANTED = "You are a helpful assistant. Always answer in UPPERCASE. Never say you are an AI."
PROPOSALS = (GAMED, CASE_ONLY, WANTED)

TASK, JUDGE, REFLECTION = "cal-task", "cal-judge", "cal-reflection"
UPPER_COMMENT = "I want answers in uppercase"
AI_COMMENT = "stop telling me you are an AI language model"

_GRADED = re.compile(r"\[(\S+) output to grade\]\n(.*?)\n\[/\1\]", re.S)
_FEEDBACK = re.compile(r"\[(\S+) feedback (\S+) \((\w+)\)\]\n(.*?)\n\[/\1\]", re.S)
_MODE = re.compile(r"\[(\S+) failure mode\]\n(\w+):", re.S)


def _bit(text: str, salt: str, share: float) -> bool:
    digest = hashlib.sha256(f"{salt}:{text}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def task_answer(system: str, question: str) -> str:
    upper = "UPPERCASE" in system or _bit(question, "upper", 0.3)
    phrase = PHRASE in system or (_bit(question, "phrase", 0.5)
                                  and "Never say you are an AI" not in system)
    answer = f"the answer to {question} is {len(question) % 7 + 2}."
    if phrase:
        answer = f"{PHRASE}, {answer}"
    return answer.upper() if upper else answer


def complaints(output: str) -> list[str]:
    """What the user says is wrong with an output (nothing: they accept it)."""
    said = []
    if output != output.upper():
        said.append(UPPER_COMMENT)
    if PHRASE.lower() in output.lower():
        said.append(AI_COMMENT)
    return said


def judge_score(output: str) -> float:
    """Miscalibrated on one failure mode: the disclaimer earns half the score."""
    return 0.5 * (output == output.upper()) + 0.5 * (PHRASE.lower() in output.lower())


def _rubric(prompt: str) -> str:
    current = json.loads(re.search(r"current rubric\]\n(.*?)\n\[/", prompt, re.S)
                         .group(1))  # type: ignore[union-attr]
    evidence: dict[str, list[str]] = {i["name"]: list(i["evidence"]) for i in current["items"]}
    for m in _FEEDBACK.finditer(prompt):
        body = m.group(4)
        if UPPER_COMMENT in body:
            evidence.setdefault("uppercase", []).append(m.group(2))
        if AI_COMMENT in body:
            evidence.setdefault("no_ai_disclaimer", []).append(m.group(2))
    text = {"uppercase": "This user wants every answer in uppercase letters.",
            "no_ai_disclaimer": "This user does not want to be told the assistant is an AI."}
    return json.dumps({"items": [
        {"name": n, "description": text[n], "scope": "all requests", "evidence": e}
        for n, e in evidence.items()]})


def _rule(prompt: str) -> str:
    m = _MODE.search(prompt)
    mode = m.group(2) if m else ""
    if mode == "uppercase":
        return json.dumps({"kind": "rule", "must_not_match": ["(?-i:[a-z])"]})
    if mode == "no_ai_disclaimer":
        return json.dumps({"kind": "rule", "must_not_match": ["as an AI language model"]})
    return json.dumps({"kind": "judge"})


class Models:
    """The world's models on loopback; ``calls`` counts requests per role."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._proposals = 0
        models = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                text = models.answer(str(body["model"]), body["messages"])
                data = json.dumps({
                    "id": "chatcmpl-cal", "object": "chat.completion", "created": 0,
                    "model": body["model"], "choices": [{"index": 0, "finish_reason": "stop",
                                                         "message": {"role": "assistant",
                                                                     "content": text}}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def answer(self, model: str, messages: list[dict[str, str]]) -> str:
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        first = next((m["content"] for m in messages if m["role"] == "user"), "")
        with self._lock:
            self.calls[model] += 1
        if model == TASK:
            return task_answer(system, last)
        if model == REFLECTION:
            with self._lock:
                proposal = PROPOSALS[self._proposals % len(PROPOSALS)]
                self._proposals += 1
            return f"Reading the feedback.\n<<<BEGIN NEW TEXT>>>\n{proposal}\n<<<END NEW TEXT>>>"
        if system.startswith("You maintain one user's rubric"):
            return _rubric(first)
        if system.startswith("You turn one failure mode"):
            return _rule(first)
        graded = _GRADED.search(first)
        output = graded.group(2) if graded else ""
        return json.dumps({"score": judge_score(output), "feedback": "graded"})

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> Models:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
