"""Test double: an OpenAI-compatible chat server on loopback, deterministic, dispatching on the
model name. It plays a tiny world in which the user wants every answer in UPPERCASE:

* ``task-double`` answers "ok: <question>", in uppercase only if its system prompt says UPPERCASE
  (asked in DSPy's chat format, it answers each output field that way, in that format);
* ``judge-double`` grades the quoted output (1 if uppercase, else 0, with feedback in words),
  and asked for a rule for a failure mode, proposes "no lowercase letter";
* ``reflect-double`` proposes a prompt that asks for uppercase, between the engine's markers.

The daemon reaches it through litellm exactly as it would reach a real provider.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_GRADED = re.compile(r"\[(\S+) output to grade\]\n(.*?)\n\[/\1\]", re.S)


# DSPy's ChatAdapter: "[[ ## name ## ]]" then the value; the fields it wants back are quoted.
_DSPY_GIVEN = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\Z)", re.S)
_DSPY_WANTED = re.compile(r"`\[\[ ## (\w+) ## \]\]`")


def task_answer(messages: list[dict[str, str]]) -> str:
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    request = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    dspy_request = request.startswith("[[ ## ")
    question = next(iter(dict(_DSPY_GIVEN.findall(request)).values()), "") if dspy_request \
        else request
    answer = f"ok: {question}"
    answer = answer.upper() if "UPPERCASE" in system else answer
    if not dspy_request:
        return answer
    wanted = [name for name in _DSPY_WANTED.findall(request) if name != "completed"]
    return "".join(f"[[ ## {name} ## ]]\n{answer}\n\n" for name in wanted) + \
        "[[ ## completed ## ]]"


_FEEDBACK = re.compile(r"\[(\S+) feedback (\S+) \((\w+)\)\]\n(.*?)\n\[/\1\]", re.S)


def rubric_answer(messages: list[dict[str, str]]) -> str:
    """The rubric contract: every quoted comment in this world asks for uppercase."""
    current = json.loads(re.search(r"current rubric\]\n(.*?)\n\[/", messages[1]["content"],
                                   re.S).group(1))  # type: ignore[union-attr]
    said = [m.group(2) for m in _FEEDBACK.finditer(messages[1]["content"])
            if "comment:" in m.group(4)]
    evidence = [e for item in current["items"] for e in item["evidence"]] + said
    if not evidence:
        return json.dumps({"items": []})
    return json.dumps({"items": [{
        "name": "uppercase", "description": "This user wants every answer in uppercase letters.",
        "scope": "all requests", "evidence": evidence}]})


def judge_answer(messages: list[dict[str, str]]) -> str:
    if messages[0]["content"].startswith("You maintain one user's rubric"):
        return rubric_answer(messages)
    if messages[0]["content"].startswith("You turn one failure mode"):
        # The one failure of this world is mechanical: a lowercase letter.
        return json.dumps({"kind": "rule", "must_not_match": ["(?-i:[a-z])"]})
    prompt = messages[-1]["content"]
    match = _GRADED.search(prompt)
    output = match.group(2) if match else ""
    if output and output == output.upper():
        return json.dumps({"score": 1.0, "feedback": "All in uppercase, as this user wants."})
    return json.dumps({"score": 0.0, "feedback": "The answer is not in uppercase; this user "
                       "wants every answer written in uppercase letters."})


def reflect_answer(messages: list[dict[str, str]]) -> str:
    return ("The feedback says the user wants uppercase.\n<<<BEGIN NEW TEXT>>>\n"
            "You are a careful editor. Always answer in UPPERCASE.\n<<<END NEW TEXT>>>")


class OpenAIDouble:
    def __init__(self, delay: float = 0.0) -> None:
        self.calls: Counter[str] = Counter()
        self.last_messages: dict[str, list[dict[str, str]]] = {}  # per model
        # hold(model): calls to that model wait until release(); `held` is set when one waits.
        self._held_model: str | None = None
        self._released = threading.Event()
        self.held = threading.Event()
        # fail(model, ...): the next calls to that model get an HTTP error instead of an answer.
        self._failures: dict[str, tuple[int, str, int | None, float | None]] = {}
        self.refused: Counter[str] = Counter()
        # The Authorization header of every call, in order (None when absent).
        self.authorizations: list[str | None] = []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                double.authorizations.append(self.headers.get("Authorization"))
                time.sleep(delay)  # a slow model, so that tests can interrupt a round
                model = body["model"]
                if model == double._held_model:
                    double.held.set()
                    double._released.wait()
                failing = double._failures.get(model)
                if failing is not None:
                    self._refuse(model, *failing)
                    return
                double.calls[model] += 1
                double.last_messages[model] = body["messages"]
                answer = {"task-double": task_answer, "judge-double": judge_answer,
                          "reflect-double": reflect_answer}[model](body["messages"])
                reply = {
                    "id": "chatcmpl-double", "object": "chat.completion", "created": 0,
                    "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": answer}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _refuse(self, model: str, status: int, message: str, times: int | None,
                        retry_after: float | None) -> None:
                double.refused[model] += 1
                if times is not None and double.refused[model] >= times:
                    double._failures.pop(model, None)
                data = json.dumps({"error": {"message": message, "type": "test_double",
                                             "code": str(status)}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if retry_after is not None:
                    self.send_header("Retry-After", f"{retry_after:g}")
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def hold(self, model: str) -> None:
        """Make calls to ``model`` wait (a provider that stops answering) until release()."""
        self._released.clear()
        self.held.clear()
        self._held_model = model

    def fail(self, model: str, status: int, message: str, *, times: int | None = None,
             retry_after: float | None = None) -> None:
        """Answer the next ``times`` calls to ``model`` (all, if None) with this HTTP error."""
        self._failures[model] = (status, message, times, retry_after)

    def release(self) -> None:
        self._held_model = None
        self._released.set()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> OpenAIDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
